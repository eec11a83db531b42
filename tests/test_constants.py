"""Each shared constant is defined once (gensemcom.constants); where C++ or another module must
repeat it, a test holds them together."""
from __future__ import annotations

import pytest

from gensemcom import constants as C


def test_meg_protocol_names_are_the_protocols_the_agents_define():
    from gensemcom.agents.meg_split.protocols import PROTOCOLS

    assert tuple(PROTOCOLS) == C.MEG_PROTOCOLS
    assert {n for n, p in PROTOCOLS.items() if p.family in ("parallel", "cooperative")} == set(C.MEG_MULTI_ES)


def test_table_i_defaults_agree_everywhere_in_python():
    from gensemcom.analysis.latency_aware import LinkParams
    from gensemcom.channels.semantic_link import LinkSpec
    from gensemcom.config import LatencyAwareConfig

    section, params, spec = LatencyAwareConfig(), LinkParams(), LinkSpec()
    for key, value in C.TABLE_I.items():
        if key == "bandwidth_hz":
            assert section.bandwidth_hz == [value, value] and params.bandwidths_hz == (value, value)
            continue
        assert getattr(section, key) == value, key
        if key != "edge_map_bits":
            assert getattr(params, key) == value, key
    assert params.stream_bits == (C.TABLE_I["edge_map_bits"],)
    for key in ("code_rate", "prompt_qam", "per_k", "per_b", "alpha", "beta", "pathloss_ref_db", "pathloss_exp", "n0_dbm_hz"):
        assert getattr(spec, key) == C.TABLE_I[key], key
    assert spec.protected_bytes == C.PROTECTED_HEADER_BYTES and spec.stream_port_base == C.UNIT_PORT


@pytest.fixture(scope="module")
def ns():
    from gensemcom.core import ns3
    return ns3.load_ns()


def _defaults(ns, type_name: str) -> dict[str, str]:
    """Initial values of an ns-3 TypeId's attributes, as ns-3 serialises them."""
    tid = ns.TypeId.LookupByName(type_name)
    out = {}
    for i in range(tid.GetAttributeN()):
        info = tid.GetAttribute(i)
        out[str(info.name)] = str(info.initialValue.SerializeToString(info.checker))
    return out


@pytest.mark.ns3
@pytest.mark.slow
def test_cxx_constants_agree(ns):
    assert ns.cppyy.gbl.ns3.SemanticHeader.kSize == C.SEMANTIC_HEADER_BYTES
    device = _defaults(ns, "ns3::SemanticLinkNetDevice")
    channel = _defaults(ns, "ns3::SemanticLinkChannel")
    expect_device = {"CodeRate": C.TABLE_I["code_rate"], "PromptQam": C.TABLE_I["prompt_qam"],
                     "PerK": C.TABLE_I["per_k"], "PerB": C.TABLE_I["per_b"], "Alpha": C.TABLE_I["alpha"],
                     "Beta": C.TABLE_I["beta"], "StreamPortBase": C.UNIT_PORT,
                     "ProtectedBytes": C.PROTECTED_HEADER_BYTES}
    expect_channel = {"PathlossRefDb": C.TABLE_I["pathloss_ref_db"], "PathlossExponent": C.TABLE_I["pathloss_exp"],
                      "NoiseDbmHz": C.TABLE_I["n0_dbm_hz"]}
    for got, expect in ((device, expect_device), (channel, expect_channel)):
        for name, value in expect.items():
            assert float(got[name]) == pytest.approx(value), name
