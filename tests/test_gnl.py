"""Generative network layer, Fig. 1 in ns-3: measured flows against Eq. (3)-(4), with latent and
pixel-swapping prompts (~25 s a run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gensemcom.agents import pixel_swap as ps

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, **gnl) -> dict:
    cfg = json.loads((ROOT / "configs" / "gnl_fig1.json").read_text())
    cfg["output_dir"] = str(tmp_path)
    cfg["images"]["repeat"] = 2
    cfg["gnl"].update(gnl)
    path = tmp_path / "gnl.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("gnl"))


def test_measured_flow_gain_matches_the_analysis(baseline):
    s = baseline
    assert s["generated_units_delivered"] == 10
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("f_sg", "f_gd", "y_g", "flow_gain"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    # The paper's Fig. 1 setting: a generating relay multiplies the flow several times.
    assert flows["flow_gain"]["measured"] > 5


def test_overloaded_genai_node_is_capped_by_its_output_link(tmp_path):
    s = _run(tmp_path, rate_factor=1.5)  # prompts 50 % faster than lambda*
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    # Prompts arrive at 1.5 lambda* L_p, but g -> d carries at most c_gd = 24 bpp per period.
    assert flows["f_sg"]["measured"] == pytest.approx(1.5 * flows["f_sg"]["analytic"], rel=0.05)
    assert flows["f_gd"]["measured"] == pytest.approx(24.0, rel=0.03)


def test_pixel_swapping_prompts_through_ns3(baseline, tmp_path):
    gamma = 0.2
    s = _run(tmp_path, ps_gamma=gamma)
    assert s["generated_units_delivered"] == 10
    # L_c = L_p + gamma L + the PS header, on the wire
    assert s["prompt_bpp"] == pytest.approx(ps.combined_prompt_bpp(baseline["prompt_bpp"], gamma, 128, 128))
    assert s["prompt_bpp"] == pytest.approx(baseline["prompt_bpp"] + 24 * gamma + 8 * ps.HEADER_BYTES / 128 ** 2, abs=2e-3)
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("f_sg", "f_gd", "y_g", "flow_gain"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    # g swapped the originals in: each swapped pixel has zero error, the rest are unchanged
    assert s["delivered_normalised_mse"] == pytest.approx((1 - gamma) * baseline["delivered_normalised_mse"], rel=0.05)
