"""Packet-level Fig. 4 points over the semantic link against the analytic model."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from gensemcom.scenarios.latency_aware import packet_points as ls
from gensemcom.analysis import latency_aware as la
from gensemcom.core import ns3

P = la.LinkParams()


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


def test_distance_inverts_eq1():
    for snr_db in (0.0, 12.5, 30.0):
        d = ls.distance_for_avg_snr(la.from_db(snr_db), P)
        assert la.db(la.avg_snr_at_distance(d, P)) == pytest.approx(snr_db, abs=1e-9)


def test_awgn_discrete_point_matches_table2_exactly_for_the_edge_map(ns):
    row, units = ls.measure_point(ns, ls.PointSpec(20.0, 1e-5, "discrete", "awgn", units=300), P)
    assert row["qam_order"] == 16 and row["delivered_units"] == 300
    # The edge map is deterministic on AWGN: 7864 payload bits at 4 bit/symbol over 1 MHz.
    assert row["edge_latency_ms"] == pytest.approx(7864 / 4 / 1e6 * 1e3, rel=1e-6)
    assert row["bits_per_symbol"] == pytest.approx(4.0, rel=1e-9)
    assert abs(ls.agreement(row)["edge_latency"]) < 1e-3
    # The prompt's ARQ is random: its mean within 4 standard errors of Eq. (3).
    se = row["prompt_latency_ms_ci95"] / 1.96
    assert abs(row["prompt_latency_ms"] - row["paper_prompt_latency_ms"]) < 4 * se + 1e-9
    assert units["prompt_retx"].min() >= 0


def test_rayleigh_prompt_follows_the_fading_average_not_the_mean_snr(ns):
    # Prompt only (10 dB is below Table II's M = 4 range at 1e-5): ARQ over block fading.
    row, _ = ls.measure_point(ns, ls.PointSpec(10.0, 1e-5, "discrete", "rayleigh", units=1500), P)
    assert row["qam_order"] == 0 and math.isnan(row["edge_latency_ms"])
    se = row["prompt_retx_ci95"] / 1.96
    assert abs(row["prompt_retx"] - row["fading_prompt_retx"]) < 4 * se
    # ... and the paper's mean-SNR value is far outside: fading costs retransmissions.
    assert row["prompt_retx"] - row["paper_prompt_retx"] > 4 * se


def test_fading_expectations_reduce_to_the_thresholds():
    spec = ls.PointSpec(25.0, 1e-5, "discrete", "rayleigh")
    a = ls.allocation(spec, P)
    fad = ls.fading_expectations(spec, P, a)
    # Bits/symbol of an Exp(1) fade lie between 4-QAM's 2 and 64-QAM's 6, below the mean-SNR order.
    assert 2.0 < fad["bits_per_symbol"] < math.log2(a.qam_order[0]) + 1e-9
    assert fad["prompt_retx"] > a.prompt_retransmissions
    cont = ls.fading_expectations(ls.PointSpec(25.0, 1e-5, "continuous", "rayleigh"), P,
                                  ls.allocation(ls.PointSpec(25.0, 1e-5, "continuous"), P))
    assert math.isinf(cont["edge_latency_ms"])


def _small_sweep(output_dir, workers: int) -> dict:
    return {"name": "gen_semcom_sweep", "scenario": "latency_sweep", "output_dir": str(output_dir),
            "images": {"names": ["kodim23"], "size": 64},
            "latency_sweep": {"snr_db": [20.0], "units": 50,
                              "packet_runs": [{"scheme": "discrete", "fading": "awgn"}],
                              "quality_targets": [0.5], "engine": {"workers": workers},
                              "phi": {"bers": [1e-4, 1e-1], "seeds": [0, 1], "crops_per_image": 0,
                                      "formats": ["raw"]}}}


@pytest.mark.slow
def test_latency_sweep_gives_the_same_tables_with_one_worker_or_two(tmp_path):
    import pandas as pd

    from gensemcom.config import parse_config
    from gensemcom.core import registry

    tables = {}
    for workers in (1, 2):
        registry.run(parse_config(_small_sweep(tmp_path / str(workers), workers)))
        run_dir = next((tmp_path / str(workers) / "gen_semcom_sweep").iterdir())
        tables[workers] = {f.name: pd.read_parquet(f) for f in sorted(run_dir.glob("*.parquet"))}
    assert len(tables[1]) == 6 and tables[1].keys() == tables[2].keys()
    for name, frame in tables[1].items():
        pd.testing.assert_frame_equal(frame, tables[2][name], obj=name)


@pytest.mark.slow
def test_latency_sweep_scenario_writes_its_tables_and_figures(ns, tmp_path):
    import json

    import pandas as pd

    from gensemcom.config import parse_config
    from gensemcom.core import registry

    cfg = parse_config(_small_sweep(tmp_path, workers=2))
    summary = registry.run(cfg)
    out = tmp_path / "gen_semcom_sweep"
    run_dir = next(out.iterdir())
    for name in ("table2.csv", "fig4_analytic.parquet", "fig4_packet.parquet", "fig4.png",
                 "fig2_phi.parquet", "fig2_phi.png", "lemma1_with_phi.parquet", "summary.json"):
        assert (run_dir / name).exists(), name
    measured = pd.read_parquet(run_dir / "fig4_packet.parquet")
    assert len(measured) == 3 and measured["delivered_units"].eq(50).all()  # one point per target BER
    phi = pd.read_parquet(run_dir / "fig2_phi.parquet")
    assert set(phi["condition"]) == {"prompt_only", "prompt_edge"} and phi["n"].eq(2).all()
    assert json.loads((run_dir / "summary.json").read_text())["fig4_agreement"]["edge_latency"]["max_abs_gap"] < 1e-3
    assert "Table II" in summary["table"]
    # The notebook redraws everything from this folder.
    import os
    from unittest import mock

    from helpers.notebooks import run_notebook
    with mock.patch.dict(os.environ, {"GENSEMCOM_RESULTS_ROOT": str(tmp_path)}):
        ns = run_notebook(Path(__file__).resolve().parents[1] / "analysis" / "latency_aware.ipynb")
    assert ns["folder"] == run_dir and ns["fig4"] is not None and ns["fig2"] is not None


def test_sweep_config_rejects_bad_runs():
    from gensemcom.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"latency_sweep\.packet_runs\.0\.fading: Input should be .awgn. or .rayleigh."):
        parse_config({"name": "x", "scenario": "latency_sweep",
                      "latency_sweep": {"packet_runs": [{"scheme": "discrete", "fading": "rician"}]}})
    with pytest.raises(ConfigError, match="increasing"):
        parse_config({"name": "x", "scenario": "latency_sweep", "latency_sweep": {"phi": {"bers": [1e-2, 1e-4]}}})
