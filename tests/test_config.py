"""Config validation: every shipped config is valid; mistakes give one line naming the key."""

from __future__ import annotations

import copy
import json
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
])
def test_each_bad_value_names_its_key(mutate, key):
    assert _error(mutate).startswith(f"config error: {key}:")


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


@pytest.mark.parametrize("content, error", [
    (b"\xff\xfe{\x00", "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"name": "x", "latency_aware": {"bandwidth_hz": [1e6, -1e6]}}', "latency_aware.bandwidth_hz.1"),
    (b'{"name": "x", "scenario": "table2", "latency_aware": {"beta": 20, "target_bers": [0.06]}}',
     "latency_aware.target_bers: each BER must be > 0 with beta x BER < 1"),
    (b'{"name": "x", "channel": "semantic_link", "latency_aware": {"beta": 4000, "target_bers": [1e-6]}, "semantic_link": {"target_ber": 1e-3}}',
     "semantic_link.target_ber: beta x BER must be < 1"),
    (b'{"name": "x", "compute": {"scale": NaN}}', "compute.scale"),
])
def test_bad_files_and_domains_are_one_line_errors(tmp_path, content, error):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "validate", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: ") and error in lines[0], proc.stderr


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
