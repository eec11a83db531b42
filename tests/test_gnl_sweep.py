"""Scenario gnl_sweep end to end on a tiny image set (~40 s): the command writes every table and
figure, the PS rows account their bytes as L_c = L_p + gamma L (+ header), the hybrid rows as
latent + reduced payload, the implicit rows as the raw frames sent, the fits and the claims check
are printed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

from gensemcom.agents import hybrid as hy
from gensemcom.agents import pixel_swap as ps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OUTPUTS = ["points.parquet", "fits.parquet", "fig4.parquet", "claims.parquet", "gains_over_jpeg.parquet",
           "fig2_rate_perception.png", "fig3_rate_distortion.png", "fig4_prompt_size_and_gain.png",
           "fig4_vs_capacity.png", "summary.json", "config.json"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gnl_sweep")
    path = config_variant("gnl_sweep.json", tmp / "tiny.json", output_dir=str(tmp), images={"names": ["kodim23", "sail"]},
                          gnl_sweep=dict(ps_gammas=[0.1], jpeg_qualities=[5, 20, 75], crops_per_image=1,
                                         weights=[0.0, 1.0], claim_weights=[0.5], c_sg_values=[1.0], optimiser_grid=12,
                                         hybrid_factors=[8], implicit_frames=4, implicit_keep_every=[2, 4]))
    out, stdout = run_cli(path, timeout=300)
    return stdout, out


def test_every_output_is_written(sweep):
    stdout, out = sweep
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert "claims of the paper, checked" in stdout and "| pe | P |" in stdout
    fits = pd.read_parquet(out / "fits.parquet")
    assert len(fits) == 20 and fits["r2"].notna().all()    # 10 curves (pe, 3 PS, 3 hybrid, implicit, jpeg, jpeg_ps) x {D, P}
    assert {"hybrid_low", "hybrid_medium", "hybrid_high", "implicit"} <= set(fits["curve"])
    claims = pd.read_parquet(out / "claims.parquet")
    assert len(claims) == 10 and bool(claims.iloc[2]["holds"])   # JPEG: no gain; + hybrid D, P and implicit rows
    assert claims.iloc[7:]["paper"].str.startswith("not in the paper").all()
    opt = pd.read_parquet(out / "fig4.parquet")
    assert set(opt["c_sg"]) == {1.0, 3.184}


def test_ps_bpp_accounting_in_the_sweep(sweep):
    points = pd.read_parquet(sweep[1] / "points.parquet")
    assert (points.loc[points["fid_set"] == "images", "n_images"] == 4).all()   # 2 images + 1 crop each
    swapped = points[points["curve"].str.contains("ps") & points["gamma"].between(0, 1, inclusive="neither")]
    assert len(swapped) == 4                                # three codecs and JPEG, one gamma each
    expected = [ps.combined_prompt_bpp(lp, g, 128, 128) for lp, g in zip(swapped["prompt_bpp"], swapped["gamma"])]
    assert np.allclose(swapped["bpp"], expected, rtol=0, atol=1e-12)
    base = points[points["curve"].str.contains("ps") & (points["gamma"] == 0)]
    assert np.allclose(base["bpp"], base["prompt_bpp"])
    pe = points[(points["curve"] == "pe") & ~points["exact"]].sort_values("bpp")
    assert np.allclose(pe["bpp"], np.sort(base[base["curve"] != "jpeg_ps"]["bpp"]))
    # more original pixels: lower distortion than the codec alone
    for curve, sub in points[points["curve"].str.contains("ps")].groupby("curve"):
        assert sub.sort_values("gamma")["normalised_mse"].is_monotonic_decreasing, curve


def test_hybrid_bpp_accounting_in_the_sweep(sweep):
    points = pd.read_parquet(sweep[1] / "points.parquet")
    hybrid = points[points["curve"].str.startswith("hybrid_")]
    assert len(hybrid) == 9                                 # 3 codecs x (codec alone, factor 8, factor 1)
    assert hybrid["gamma"].isna().all() and (hybrid["fid_set"] == "images").all()
    for curve, sub in hybrid.groupby("curve"):
        sub = sub.sort_values("bpp")
        assert sub["factor"].tolist() == [np.inf, 8.0, 1.0], curve
        base, mid, end = sub.to_dict("records")
        codec = points[(points["curve"] == f"ps_{curve.removeprefix('hybrid_')}") & (points["gamma"] == 0)].iloc[0]
        assert base["bpp"] == base["prompt_bpp"] == codec["bpp"] and base["fid"] == codec["fid"]
        assert mid["bpp"] == pytest.approx(hy.hybrid_prompt_bpp(mid["prompt_bpp"], 8, 128, 128), rel=0, abs=1e-12)
        assert mid["bpp"] - mid["prompt_bpp"] == pytest.approx(0.375 + 88 / 128 ** 2, abs=1e-12)
        assert mid["normalised_mse"] < base["normalised_mse"]   # the reduced original fixes the low-pass band
        assert end["exact"] and end["normalised_mse"] == 0 and end["bpp"] == hy.hybrid_prompt_bpp(end["prompt_bpp"], 1, 128, 128)


def test_implicit_points_in_the_sweep(sweep):
    points = pd.read_parquet(sweep[1] / "points.parquet")
    imp = points[points["curve"] == "implicit"].sort_values("keep_every")
    assert imp["keep_every"].tolist() == [1.0, 2.0, 4.0]
    assert np.allclose(imp["bpp"], [24.0, 12.0, 6.0], rtol=0, atol=0)   # raw frames sent / frames
    assert (imp["fid_set"] == "pan frames").all() and (imp["n_images"] == 8).all()   # 2 images x 4 frames
    assert (points.loc[points["curve"] != "implicit", "fid_set"] == "images").all()
    measured = imp[~imp["exact"]]
    assert (measured["normalised_mse"] > 0).all() and measured["normalised_mse"].is_monotonic_increasing
    # k = 2: frame 3 is extrapolated from frames 0 and 2; k = 4: only frame 0 arrives, every frame is held
    assert measured["frames_extrapolated"].tolist() == [1.0, 0.0]
    assert measured["normalised_mse"].iloc[0] < measured["normalised_mse_hold"].iloc[0]
    assert measured["normalised_mse"].iloc[1] == measured["normalised_mse_hold"].iloc[1]
    summary = json.loads((sweep[1] / "summary.json").read_text())
    assert summary["implicit"]["n_frames"] == 8 and summary["implicit"]["frames_per_sequence"] == 4
