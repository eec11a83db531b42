"""Channel "nr" in the default scenario, end to end through the CLI: semantic units from a source
UE over the NR uplink (prompt on RLC AM, conditioning on RLC UM), the backhaul, the generator
and back down to the sink UE, with every transport block in packets.parquet."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SMALL = dict(name="nr_e2e", images={"names": ["monarch", "sail", "tulips"], "size": 64},
             nr={"fading": {"trace_s": 0.5}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nr")
    first = run_cli(config_variant("gen_semcom_nr.json", tmp / "a.json", output_dir=str(tmp / "a"), **SMALL))
    again = run_cli(config_variant("gen_semcom_nr.json", tmp / "b.json", output_dir=str(tmp / "b"), **SMALL))
    return first, again


def test_every_unit_crosses_the_nr_cell_and_is_generated(runs):
    (out, stdout), _ = runs
    units = pd.read_parquet(out / "units.parquet")
    assert (units["status"] == "ok").all(), units["status"].value_counts()
    assert (units["t_genai_ready"] > units["t_sent"]).all() and (units["t_delivered"] > units["t_generated"]).all()
    summary = json.loads((out / "summary.json").read_text())
    nr = summary["network"]["nr"]
    assert nr["numerology"] == 1 and nr["rlc"] == "per_stream" and nr["fading"]["model"] == "TDL-C"
    assert (out / "nr_phy.png").stat().st_size > 10_000 and not (out / "lte_phy.png").exists()
    for direction in ("ul", "dl"):
        stats = summary["nr"][direction]
        assert stats["first_transmissions"] > 0 and stats["residual_failures"] == 0
        assert stats["failed_not_retransmitted"] == 0
        # the trace and the cell's own counters agree
        assert stats["tbs"] == nr["counters"][direction]["tbs"]
        assert stats["harq_retransmissions"] == nr["counters"][direction]["retx"]


def test_transport_blocks_in_the_trace_carry_the_nr_columns(runs):
    (out, _), _ = runs
    packets = pd.read_parquet(out / "packets.parquet")
    tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
    assert len(tb) > 20 and set(tb["event"]) == {"phy_ul_tb", "phy_dl_tb"}
    assert tb[["slot", "prb", "sym", "tbs", "sinr_db"]].notna().all().all()
    assert (tb["tbs"] == 8 * tb["bytes"]).all() and (tb["prb"] >= 1).all()
    # HARQ rounds are 0..harq_max_tx-1; a retransmission repeats its TB's size
    assert tb["rv"].between(0, 3).all() and ((tb["rv"] == 0) == (tb["ndi"] == 1)).all()
    # the application rows are there as on LTE
    assert {"stream_tx", "stream_rx", "unit_rx"} <= set(packets["event"])


def test_same_seed_same_nr_trace(runs):
    (a, _), (b, _) = runs
    pd.testing.assert_frame_equal(pd.read_parquet(a / "packets.parquet"), pd.read_parquet(b / "packets.parquet"))
    cols = ["unit", "status", "t_genai_ready", "t_delivered", "latency_s", "psnr_db"]
    pd.testing.assert_frame_equal(pd.read_parquet(a / "units.parquet")[cols], pd.read_parquet(b / "units.parquet")[cols])


def test_meg_protocols_over_nr(tmp_path):
    """Mobile edge generation over the NR cell: the centralised baseline and CIAG, every request
    answered, every message carried by NR transport blocks."""
    out, stdout = run_cli(config_variant(
        "meg_single_es_nr.json", tmp_path / "meg.json", output_dir=str(tmp_path),
        images={"names": ["monarch"], "size": 64}, meg={"protocols": ["full_es", "ciag"], "sketch_side": 32},
        nr={"fading": {"trace_s": 0.5}}))
    requests = pd.read_parquet(out / "requests.parquet")
    assert (requests["status"] == "ok").all() and set(requests["protocol"]) == {"full_es", "ciag"}
    packets = pd.read_parquet(out / "packets.parquet")
    tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
    assert set(tb["event"]) == {"phy_ul_tb", "phy_dl_tb"} and tb["sinr_db"].notna().all()
    assert "| ciag |" in stdout
