"""lte.rlc = per_stream: the prompt on the default bearer (RLC AM), the conditioning streams on
a dedicated QCI 7 bearer that ns-3 maps to RLC UM; read back from the UEs' RRC in ns-3."""
from __future__ import annotations

import pytest

from gensemcom.config import parse_config
from gensemcom.channels import lte
from gensemcom.core import ns3

pytestmark = pytest.mark.ns3


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


@pytest.mark.parametrize("rlc, source_drbs", [
    ("per_stream", {1: "ns3::LteRlcAm", 2: "ns3::LteRlcUm"}),
    ("am", {1: "ns3::LteRlcAm"}),
    ("um", {1: "ns3::LteRlcUm"}),
])
@pytest.mark.slow
def test_bearers_and_rlc_modes(ns, tmp_path, rlc, source_drbs):
    cfg = parse_config({"name": "x", "lte": {"rlc": rlc, "fading": {"model": "none"}}})
    net = lte.build(ns, cfg, ns3.reset(ns, cfg.seed))
    ns.Simulator.Stop(ns.Seconds(0.3))  # attach and bearer set-up
    ns.Simulator.Run()
    try:
        assert lte.bearer_rlc_types(ns, net.devices[net.sources[0]]) == source_drbs
        assert lte.bearer_rlc_types(ns, net.devices[net.sink]) == {1: source_drbs[1]}
    finally:
        ns.Simulator.Destroy()
