"""Scenario gnl_sweep end to end on a tiny image set (~40 s): the command writes every table and
figure, the PS rows account their bytes as L_c = L_p + gamma L (+ header), the fits and the
claims check are printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gensemcom.agents import pixel_swap as ps

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["points.parquet", "fits.parquet", "fig4.parquet", "claims.parquet", "gains_over_jpeg.parquet",
           "fig2_rate_perception.png", "fig3_rate_distortion.png", "fig4_prompt_size_and_gain.png",
           "fig4_vs_capacity.png", "summary.json", "config.json"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gnl_sweep")
    cfg = json.loads((ROOT / "configs" / "gnl_sweep.json").read_text())
    cfg["output_dir"] = str(tmp)
    cfg["images"]["names"] = ["kodim23", "sail"]
    cfg["gnl_sweep"].update(ps_gammas=[0.1], jpeg_qualities=[5, 20, 75], crops_per_image=1,
                            weights=[0.0, 1.0], claim_weights=[0.5], c_sg_values=[1.0], optimiser_grid=12)
    path = tmp / "tiny.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    return proc.stdout, out


def test_every_output_is_written(sweep):
    stdout, out = sweep
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert "claims of the paper, checked" in stdout and "| pe | P |" in stdout
    fits = pd.read_parquet(out / "fits.parquet")
    assert len(fits) == 12 and fits["r2"].notna().all()    # 6 curves x {D, P}
    claims = pd.read_parquet(out / "claims.parquet")
    assert len(claims) == 7 and bool(claims.iloc[2]["holds"])   # JPEG: no gain
    opt = pd.read_parquet(out / "fig4.parquet")
    assert set(opt["c_sg"]) == {1.0, 3.184}


def test_ps_bpp_accounting_in_the_sweep(sweep):
    points = pd.read_parquet(sweep[1] / "points.parquet")
    assert (points["n_images"] == 4).all()                  # 2 images + 1 crop each
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
