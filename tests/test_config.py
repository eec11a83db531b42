"""Config validation: every shipped config is valid; mistakes give one line naming the key."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gensemcom.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = json.loads((ROOT / "configs" / "gen_semcom.json").read_text())


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    cfg = load_config(path)
    assert cfg.name


def _error(mutate) -> str:
    data = copy.deepcopy(DEFAULT)
    mutate(data)
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def test_unknown_key_is_named():
    msg = _error(lambda d: d["lte"].update(bandwith_rb=25))
    assert msg == "config error: lte.bandwith_rb: unknown key"


def test_bad_value_is_named_with_the_value():
    msg = _error(lambda d: d["lte"].update(bandwidth_rb=33))
    assert msg.startswith("config error: lte.bandwidth_rb:") and "(got 33)" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["app"].update(rate="fast"), "app.rate"),
    (lambda d: d["bit_errors"].update(ber=0.7), "bit_errors.ber"),
    (lambda d: d["lte"]["fading"].update(model="XYZ"), "lte.fading.model"),
    (lambda d: d["lte"]["propagation"].update(model="magic"), "lte.propagation.model"),
    (lambda d: d["lte"]["propagation"].update(model="friis"), "lte.propagation.attributes"),  # Exponent: not Friis
    (lambda d: d["images"].update(names=["no_such_image"]), "images"),
    (lambda d: d.update(seed=0), "seed"),
    (lambda d: d.pop("name"), "name"),
    (lambda d: d["lte"].update(ues=[{"name": "a", "distance_m": 10, "role": "source"},
                                    {"name": "b", "distance_m": 10, "role": "source"}]), "lte.ues"),
    (lambda d: d.update(models={"generator": {"backend": "nope"}}), "models.generator.backend"),
    (lambda d: d.update(models={"generator": {"backend": "hint_upsample", "steps": 4}}), "models.generator.steps"),
    (lambda d: d.update(models={"codec": {"backend": "learned", "rte": "low"}}), "models.codec.rte"),
    (lambda d: d["app"].update(streams=["prompt", "edge", "prompt"]), "app.streams"),
    (lambda d: d["app"].update(rate="0Mbps"), "app.rate"),
    (lambda d: d["backhaul"].update(rate="0Gbps"), "backhaul.rate"),
    (lambda d: d["compute"].update(generate_s=float("nan")), "compute.generate_s"),
    (lambda d: d["compute"].update(encode_s=float("inf")), "compute.encode_s"),
    (lambda d: d["lte"].update(enb_tx_power_dbm=float("-inf")), "lte.enb_tx_power_dbm"),
    (lambda d: d.setdefault("agents", {}).update(device="gpu"), "agents.device"),
    (lambda d: d.setdefault("agents", {}).update(device=0), "agents.device"),
    (lambda d: d.setdefault("agents", {}).update(device=["cpu", "cuda:x"]), "agents.device"),
    (lambda d: d.setdefault("agents", {}).update(workers=2, device=["cpu"]), "agents.device"),
])
def test_each_bad_value_names_its_key(mutate, key):
    assert _error(mutate).startswith(f"config error: {key}:")


def test_agents_device_names_and_worker_lists():
    msg = _error(lambda d: d.setdefault("agents", {}).update(device="gpu"))
    assert msg == "config error: agents.device: must be 'auto', 'cpu', 'cuda' or 'cuda:N' or a list of them, got 'gpu'"
    msg = _error(lambda d: d.setdefault("agents", {}).update(workers=3, device=["cpu", "cuda"]))
    assert "2 entries for 3 worker(s)" in msg and "\n" not in msg
    data = copy.deepcopy(DEFAULT)
    data["agents"] = {**data.get("agents", {}), "workers": 2, "device": ["cuda:1", "cpu"]}
    assert parse_config(data).agents.devices() == ["cuda:1", "cpu"]
    assert parse_config(DEFAULT).agents.devices() == ["auto"]


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",, }')
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_config(bad)


def test_cli_rejects_bad_config_before_ns3_starts(tmp_path):
    data = copy.deepcopy(DEFAULT)
    data["lte"]["rlc"] = "turbo"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "config error: lte.rlc: Input should be 'am', 'um', 'sm' or 'per_stream' (got 'turbo')"]
    assert time.monotonic() - start < 15  # no ns-3 import (~15 s) happened


def test_config_doc_lists_every_key():
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "config-doc"], capture_output=True,
                          text=True, timeout=60, check=True)
    for key in ("lte.fading.model", "lte.propagation.attributes", "compute.kind", "bit_errors.ber"):
        assert f"| `{key}` |" in proc.stdout


def test_config_reference_is_up_to_date():
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "config-doc"], capture_output=True,
                          text=True, timeout=60, check=True)
    assert proc.stdout.strip() in (ROOT / "configs" / "README.md").read_text(), \
        "configs/README.md is stale: regenerate it with `python -m gensemcom config-doc`"


def test_gnl_topology_is_validated():
    from gensemcom.config import GnlConfig

    edges = [{"u": "s", "v": "g1", "capacity": 1.0}, {"u": "g1", "v": "d", "capacity": 24.0}]
    assert GnlConfig(edges=edges, genai_nodes=["g1"]).genai_nodes == ["g1"]
    with pytest.raises(ValueError, match="has no node"):
        GnlConfig(edges=edges[:1], genai_nodes=["g1"])
    with pytest.raises(ValueError, match="each directed link once"):
        GnlConfig(edges=edges + edges[:1], genai_nodes=["g1"])
    with pytest.raises(ValueError, match="Fig. 1 topology"):
        GnlConfig(genai_nodes=["g1"])
    with pytest.raises(ValueError, match="distinct nodes"):
        GnlConfig(edges=edges, genai_nodes=["g1", "d"])


def _cfg(**sections) -> bytes:
    """A config file's bytes: name x plus `sections` (json writes NaN / Infinity as such)."""
    return json.dumps({"name": "x", **sections}).encode()


def _ues(*ues) -> dict:
    return {"ues": [{"name": n, "distance_m": d, "role": r} for n, d, r in ues]}


# Malformed configs by class, each with the line(s) `validate` must print: (key, words in the
# line); the key "{path}" is the file itself. One table through the CLI, as a user meets it.
P = "{path}"
BAD_CONFIGS = [
    # encodings
    pytest.param(b"\xff\xfe{\x00", [(P, "not UTF-8 text (byte 0)")], id="utf16"),
    pytest.param(b'{"name": "caf\xe9"}', [(P, "not UTF-8 text (byte 13)")], id="latin1"),
    pytest.param(b"\x00\x01\x02", [(P, "invalid JSON at line 1 column 1")], id="binary"),
    pytest.param(b'{"name": "\\ud800"}', [("name", "valid string")], id="lone-surrogate"),
    pytest.param(b"[1, 2]", [(P, "top level must be a JSON object")], id="not-an-object"),
    # paths
    pytest.param("directory", [(P, "is a directory")], id="directory"),
    pytest.param("missing", [("file not found", "")], id="missing-file"),
    pytest.param("fifo", [(P, "is not a regular file")], id="fifo"),
    # types (pydantic's lax mode takes "64" for 64 and 10.0 for 10, which campaigns rely on; not these)
    pytest.param(_cfg(images={"size": 64.5}), [("images.size", "valid integer")], id="fraction-for-int"),
    pytest.param(_cfg(lte={"harq": 2}), [("lte.harq", "valid boolean")], id="number-for-bool"),
    pytest.param(_cfg(name=["x"]), [("name", "valid string")], id="list-for-string"),
    pytest.param(_cfg(lte=5), [("lte", "valid dictionary")], id="number-for-section"),
    pytest.param(_cfg(app={"streams": {"prompt": 1}}), [("app.streams", "valid list")], id="object-for-list"),
    # NaN, infinities
    pytest.param(b'{"name": "x", "compute": {"scale": NaN}}', [("compute.scale", "finite number")], id="nan"),
    pytest.param(_cfg(scenario="table2", latency_aware={"bandwidth_hz": [float("nan"), 1e6]}),
                 [("latency_aware.bandwidth_hz.0", "finite number")], id="nan-in-list"),
    pytest.param(_cfg(lte={"propagation": {"attributes": {"Exponent": float("nan")}}}),
                 [("lte.propagation.attributes.Exponent", "must be a number > 0, got nan")], id="nan-in-attributes"),
    pytest.param(_cfg(lte=_ues(("a", float("inf"), "source"), ("b", 10, "sink"))),
                 [("lte.ues.0.distance_m", "finite number (got inf)")], id="inf"),
    pytest.param(b'{"name": "x", "images": {"interval_s": 1e400}}', [("images.interval_s", "finite number")], id="overflow"),
    # negatives
    pytest.param(b'{"name": "x", "latency_aware": {"bandwidth_hz": [1e6, -1e6]}}',
                 [("latency_aware.bandwidth_hz.1", "greater than 0")], id="negative-bandwidth"),
    pytest.param(_cfg(backhaul={"delay_ms": -5}), [("backhaul.delay_ms", "greater than or equal to 0")], id="negative-delay"),
    pytest.param(_cfg(lte={"propagation": {"attributes": {"Exponent": -3.4}}}),
                 [("lte.propagation.attributes.Exponent", "must be a number > 0, got -3.4")], id="negative-exponent"),
    pytest.param(_cfg(scenario="latency_sweep", latency_sweep={"phi": {"seeds": [-1]}}),
                 [("latency_sweep.phi.seeds.0", "greater than or equal to 0")], id="negative-seed"),
    # zeros
    pytest.param(_cfg(backhaul={"rate": "0bps"}), [("backhaul.rate", "must be positive")], id="zero-backhaul-rate"),
    pytest.param(_cfg(channel="semantic_link", app={"streams": ["prompt", "edge"]}, semantic_link={"bandwidth_hz": 0}),
                 [("semantic_link.bandwidth_hz", "greater than 0")], id="zero-link-bandwidth"),
    pytest.param(_cfg(scenario="gnl_flow", gnl={"edges": [{"u": "s", "v": "g", "capacity": 0}, {"u": "g", "v": "d", "capacity": 1}]}),
                 [("gnl.edges.0.capacity", "greater than 0")], id="zero-link-capacity"),
    pytest.param(_cfg(lte={"propagation": {"model": "friis", "attributes": {"Frequency": 0}}}),
                 [("lte.propagation.attributes.Frequency", "must be a number > 0")], id="zero-frequency"),
    # domain limits of the formulas and of ns-3
    pytest.param(b'{"name": "x", "scenario": "table2", "latency_aware": {"beta": 20, "target_bers": [0.06]}}',
                 [("latency_aware.target_bers", "each BER must be > 0 with beta x BER < 1")], id="eq4-sweep"),
    pytest.param(b'{"name": "x", "channel": "semantic_link", "latency_aware": {"beta": 4000, "target_bers": [1e-6]}, '
                 b'"semantic_link": {"target_ber": 1e-3}}', [("semantic_link.target_ber", "beta x BER must be < 1")],
                 id="eq4-link"),
    pytest.param(_cfg(scenario="table2", latency_aware={"per_k": -1}), [("latency_aware.per_b", "Eq. 2 needs")], id="eq2"),
    pytest.param(_cfg(scenario="table2", latency_aware={"prompt_qam": 3}), [("latency_aware.prompt_qam", "power of 2")],
                 id="qam-order"),
    pytest.param(_cfg(lte={"propagation": {"model": "three_log_distance", "attributes": {"Distance1": 600}}}),
                 [("lte.propagation.attributes", "Distance0 < Distance1 < Distance2")], id="distances-out-of-order"),
    pytest.param(_cfg(lte={"propagation": {"model": "okumura_hata", "attributes": {"Environment": "Moon"}}}),
                 [("lte.propagation.attributes.Environment", "must be one of ['Urban', 'SubUrban', 'OpenAreas']")],
                 id="ns3-enum"),
    # duplicates
    pytest.param(_cfg(app={"streams": ["prompt", "hint", "hint"]}), [("app.streams", "distinct")], id="duplicate-streams"),
    pytest.param(_cfg(lte=_ues(("a", 10, "source"), ("a", 20, "sink"))), [("lte.ues", "unique")], id="duplicate-ues"),
    pytest.param(b'{"name": "x", "lte": {"rlc": "am", "rlc": "um"}}', [("lte.rlc", "key given twice")], id="duplicate-key"),
    # backend options (each backend's constructor), before any agent starts
    pytest.param(_cfg(models={"split": {"backend": "gsc_ldm", "stepz": 4}}, scenario="meg"),
                 [("models.split.stepz", "no such option")], id="backend-option"),
    pytest.param(_cfg(scenario="rate_quality", rate_quality={"codecs": [{"backend": "learned", "rate": "low"},
                                                                       {"backend": "learned", "rte": "low"}]}),
                 [("rate_quality.codecs.1.rte", "no such option")], id="backend-option-in-list"),
    pytest.param(_cfg(scenario="rate_quality", rate_quality={"generators": [{"backend": "nope"}]}),
                 [("rate_quality.generators.0.backend", "must be one of")], id="backend-name-in-list"),
    # deep, large
    pytest.param(b"[" * 100_000 + b"]" * 100_000, [(P, "nested too deeply")], id="deep-json"),
    pytest.param(b'{"name": "x", "lte": {"propagation": {"attributes": {"Exponent": ' + b"[" * 900 + b"]" * 900 + b"}}}}",
                 [("lte.propagation.attributes.Exponent", "got [[[[...]]]]")], id="deep-value"),
    pytest.param(b'{"name": "x", "lte": ' + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"}", [("lte.a", "unknown key")],
                 id="deep-objects"),
    pytest.param(_cfg(lte={"rlc": "t" * 100_000}), [("lte.rlc", "(got 'tttt")], id="long-string"),
    # 5G NR (channel nr)
    pytest.param(_cfg(channel="nr", nr={"numerology": 4}), [("nr.numerology", "Input should be 0, 1, 2 or 3")],
                 id="nr-numerology"),
    pytest.param(_cfg(channel="nr", nr={"numerology": 2, "bandwidth_prb": 270}),
                 [("nr.bandwidth_prb", "exceed the 38.101 maximum of 264 at 60 kHz")], id="nr-prbs-above-band"),
    pytest.param(_cfg(channel="nr", nr={"duplex": "DDXU"}), [("nr.duplex", "unknown TDD slot symbol 'X'")],
                 id="nr-tdd-symbol"),
    pytest.param(_cfg(channel="nr", nr={"mcs_table": 3}), [("nr.mcs_table", "Input should be 1 or 2")], id="nr-mcs-table"),
    pytest.param(_cfg(channel="nr", nr={"mcs_table": 2, "fixed_mcs": 28}), [("nr.fixed_mcs", "table 2 ends at 27")],
                 id="nr-fixed-mcs"),
    pytest.param(_cfg(channel="nr", nr={"fading": {"model": "EVA"}}), [("nr.fading.model", "'TDL-A'")], id="nr-fading"),
    pytest.param(_cfg(channel="nr", nr={"ues": [{"name": "a", "distance_m": 10, "role": "source"}]}),
                 [("nr.ues", "at least 2 items")], id="nr-one-ue"),
    # one line per problem
    pytest.param(_cfg(lte={"bandwidth_rb": 33}, app={"rate": "fast"}),
                 [("lte.bandwidth_rb", "(got 33)"), ("app.rate", "got 'fast'")], id="two-problems"),
]


def _bad_path(tmp_path: Path, content) -> Path:
    path = tmp_path / "bad.json"
    if content == "directory":
        path.mkdir()
    elif content == "fifo":
        os.mkfifo(path)
    elif content != "missing":
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("content, problems", BAD_CONFIGS)
def test_bad_files_and_domains_are_one_line_errors(tmp_path, content, problems):
    """Exit status 2, no traceback, one bounded line per problem naming its key (or the file)."""
    path = _bad_path(tmp_path, content)
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "validate", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(problems), proc.stderr
    for (key, words), line in zip(sorted(problems), sorted(lines)):
        ends = (": ", " ") if key == P else (": ",)   # the full key, not the start of a longer one
        assert any(line.startswith(f"config error: {key.replace(P, str(path))}{end}") for end in ends), line
        assert words in line and len(line) < 500, line


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(DEFAULT).encode())
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "validate", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
