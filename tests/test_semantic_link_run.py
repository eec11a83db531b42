"""The default scenario over the paper's semantic link instead of LTE (channel "semantic_link"):
real agents, the C++ link in ns-3, the receiver generates; the allocation follows Lemma 1."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

from gensemcom.config import ConfigError, parse_config

pytestmark = [pytest.mark.ns3, pytest.mark.e2e, pytest.mark.slow]


def _run(tmp_path: Path, name: str, **overrides) -> Path:
    base = {"name": name, "output_dir": str(tmp_path / "results"), "images": {"names": ["monarch", "sail"]},
            "sim": {"drain_s": 1.0}}
    return run_cli(config_variant("gen_semcom_link.json", tmp_path / f"{name}.json", **base, **overrides))[0]


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    # Low SNR and a loose BER target: bit errors are certain on the raw edge map.
    return _run(tmp_path_factory.mktemp("link"), "link",
                semantic_link={"avg_snr_db": 8.0, "target_ber": 1e-2, "fading": "awgn"})


def test_units_cross_the_link_and_are_generated_at_the_receiver(noisy_run):
    summary = json.loads((noisy_run / "summary.json").read_text())
    units = pd.read_parquet(noisy_run / "units.parquet")
    assert summary["units"] == 2 and "lte" not in summary and summary["semantic_link"] is None
    net = summary["network"]
    assert net["channel"] == "semantic_link" and net["allocation_applied"]["modes"] == ["arq", "rate", "rate"]
    assert sum(net["allocation_applied"]["powers_w"]) == pytest.approx(0.01, rel=1e-9)
    # Generated where received: delivery = generation time, no downlink.
    done = units[units["status"].isin(["ok", "degraded"])]
    assert len(done) == 2 and (done["t_delivered"] == done["t_generated"]).all()
    packets = pd.read_parquet(noisy_run / "packets.parquet")
    assert {"link_tx", "link_rx"} <= set(packets["event"])


def test_bit_errors_reach_the_generator_and_mark_units_degraded(noisy_run):
    summary = json.loads((noisy_run / "summary.json").read_text())
    stats = summary["network"]["link_stats"]
    edge = stats["1"]
    # Eq. 4 at BER 1e-2 on ~33 kbit of raw edge map: hundreds of flips, at about the target rate.
    assert edge["bitsFlipped"] > 50 and 0.3e-2 < edge["ber"] < 1e-2 * 1.5
    assert stats["0"]["bitsFlipped"] == 0  # the prompt is CRC + ARQ: delivered intact
    units = pd.read_parquet(noisy_run / "units.parquet")
    assert not units["crc_ok_edge"].any() and units["crc_ok_prompt"].all()
    assert (units["status"] == "degraded").all()


def test_semantic_link_config_checks():
    base = {"name": "x", "channel": "semantic_link"}
    with pytest.raises(ConfigError, match="first stream"):
        parse_config({**base, "app": {"streams": ["edge", "prompt"]}})
    with pytest.raises(ConfigError, match="table2"):
        parse_config({**base, "semantic_link": {"allocation": "table2"}})
    with pytest.raises(ConfigError, match="channel: scenario gnl_fig1 does not use this section"):
        parse_config({**base, "scenario": "gnl_fig1"})
    parse_config({**base, "app": {"streams": ["prompt", "edge"]}, "semantic_link": {"allocation": "table2"}})
