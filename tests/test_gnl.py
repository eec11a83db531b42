"""Generative network layer, Fig. 1 in ns-3: measured flows against Eq. (3)-(4) (~25 s a run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_measured_flow_gain_matches_the_analysis(tmp_path):
    s = _run(tmp_path)
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
