"""Scenario meg_sweep through ns-3 LTE end to end with a tiny grid (CLI, two real agent
processes, five ns-3 simulations in one process), then the notebook on its results (~60 s)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli
from helpers.notebooks import run_notebook
from test_meg_sweep import NOTEBOOK

from gensemcom.analysis import meg_results, results

pytestmark = [pytest.mark.ns3, pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("meg_sweep")
    # snr_10 repeats ues_1 (same protocol, network and SNR) later in the same process.
    sweep = dict(ue_counts=[1, 2], ue_protocols=["ciag"], ue_num_es=1, es_counts=[2],
                 es_protocols=["uidcg"], snr_db=[-20.0, 10.0], snr_protocols=["ciag"], snr_num_es=1)
    return run_cli(config_variant("meg_sweep.json", tmp / "meg_sweep.json", output_dir=str(tmp / "results"),
                                  images={"size": 64}, meg=dict(sketch_side=32, snr_db=10.0, sweep=sweep)))


def test_outputs_and_summary_printed(sweep_run):
    out, stdout = sweep_run
    for name in ("requests", "overhead", "response", "quality", "grid"):
        assert (out / f"{name}.parquet").is_file(), name
    for name in ("response.png", "quality.png", "grid.png", "sweep.md", "summary.json", "agent-ue.log", "agent-es.log"):
        assert (out / name).is_file(), name
    points = ["ues_1", "ues_2", "ess_2", "snr_-20", "snr_10"]
    for p in points:
        assert (out / "points" / p / "packets.parquet").is_file() and (out / "points" / p / "messages.parquet").is_file()
    assert json.loads((out / "summary.json").read_text())["points"] == points
    assert "| mean response (ms) | 1 UEs | 2 UEs |" in stdout and "| ciag |" in stdout and "| uidcg |" in stdout


def test_every_request_crossed_ns3_and_finished(sweep_run):
    out, _ = sweep_run
    requests = pd.read_parquet(out / "requests.parquet")
    assert (requests.status == "ok").all()
    assert requests.groupby("point").size().to_dict() == {"ues_1": 1, "ues_2": 2, "ess_2": 1, "snr_-20": 1, "snr_10": 1}
    for point in requests.point.unique():
        packets = pd.read_parquet(out / "points" / point / "packets.parquet")
        messages = pd.read_parquet(out / "points" / point / "messages.parquet")
        rx = packets[packets.event == "stream_rx"].groupby("unit")["bytes"].sum()
        assert (messages.set_index("mid")["bytes"] == rx.reindex(messages.mid).values).all()
        assert (packets.event.isin(["phy_ul_tb", "phy_dl_tb"])).any()


def test_response_grows_with_ues_sharing_the_es(sweep_run):
    out, _ = sweep_run
    response = pd.read_parquet(out / "response.parquet").set_index(["series", "x", "protocol"])["response_s"]
    assert response[("ues", 2.0, "ciag")] > response[("ues", 1.0, "ciag")] > 0
    assert response[("ess", 2.0, "uidcg")] > 0


def test_a_later_simulation_repeats_an_earlier_one_exactly(sweep_run):
    """Same config in the same process => same packets, times and image (ResetNextStreamIndex)."""
    out, _ = sweep_run
    a = pd.read_parquet(out / "points" / "ues_1" / "messages.parquet")
    b = pd.read_parquet(out / "points" / "snr_10" / "messages.parquet")
    pd.testing.assert_frame_equal(a, b)
    r = pd.read_parquet(out / "requests.parquet").set_index("point")
    assert r.loc["ues_1", "response_s"] == r.loc["snr_10", "response_s"]
    assert r.loc["ues_1", "psnr_db"] == r.loc["snr_10", "psnr_db"]


def test_quality_vs_snr_and_grid(sweep_run):
    out, _ = sweep_run
    q = pd.read_parquet(out / "quality.parquet").set_index("snr_db")
    assert q.loc[10.0, "psnr_ref_db"] > q.loc[-20.0, "psnr_ref_db"]      # noise hurts
    assert np.isfinite(q[["psnr_db", "lpips", "psnr_ref_db", "lpips_ref", "inception_cosine"]].to_numpy()).all()
    assert q.inception_cosine.between(0, 1).all() and (q.fid_n == 1).all() and q.fid.isna().all()
    grid = pd.read_parquet(out / "grid.parquet")
    assert sorted(grid.column) == ["-20 dB", "10 dB", "input", "noiseless"]
    assert all(meg_results.png_image(p).shape == (64, 64, 3) for p in grid.png)


def test_notebook_redraws_the_sweep(sweep_run, monkeypatch):
    out, _ = sweep_run
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(out.parents[1]))
    ns = run_notebook(NOTEBOOK)
    assert ns["sweep_dir"] == out and set(ns["sweep"]) >= {"requests", "response", "quality", "grid", "overhead"}
