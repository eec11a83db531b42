"""analysis/gnl.ipynb (the generative network layer's Figs. 2-4, claims and ns-3 flow runs) run
headless on a synthetic results root: a gnl_sweep run whose fits, Fig. 4 table and claims come
from analysis.gnl_curves itself (so their schema cannot drift from the notebook's), and ns-3 flow
runs in the layout of scenario gnl_fig1 (scenarios/gnl/flow.py) (flows.csv, one of them with an edges.csv)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gensemcom.analysis import gnl_curves as gc
from gensemcom.analysis import results
from gensemcom.config import GnlConfig
from helpers.notebooks import clean_notebook_cells, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "analysis" / "gnl.ipynb"
STAMP = "20000101-000000"
# The paper's curves (one PS codec) plus the new hybrid / implicit kinds: the notebook must draw
# whatever curves the tables hold.
CURVES = ["pe", "ps_low", "jpeg", "jpeg_ps", "hybrid_low", "implicit"]


def _points() -> pd.DataFrame:
    """Curve points in the layout of gnl_curves.measure_points (each curve's exact end point last)."""
    rows = []

    def add(curve, base, scheme, bpps, fid, mse, gammas=None, fid_set="images"):
        for k, x in enumerate(bpps):
            rows.append({"curve": curve, "base": base, "gamma": gammas[k] if gammas else 0.0, "bpp": x,
                         "prompt_bpp": bpps[0] if gammas else x, "normalised_mse": mse(x), "fid": fid(x),
                         "fid_vs_inverted": fid(x) / 250, "n_images": 4, "exact": False, "scheme": scheme,
                         "fid_set": fid_set})
        rows.append({**rows[-1], "base": "original" if gammas is None else base, "gamma": 1.0,
                     "bpp": 24.0 + (bpps[0] if gammas else 0.0), "normalised_mse": 0.0, "fid": 0.0,
                     "fid_vs_inverted": 0.0, "exact": True})

    gammas = [0.0, 0.05, 0.1, 0.25]
    add("pe", "learned", "genai", [0.25, 0.44, 0.81], lambda x: 300 * np.exp(-0.9 * x), lambda x: 0.03 * np.exp(-0.5 * x))
    add("ps_low", "learned low", "genai", [0.25 + 24 * g for g in gammas],
        lambda x: 240 * (1 - (x - 0.25) / 24) ** 2, lambda x: 0.027 * (1 - (x - 0.25) / 24), gammas)
    add("jpeg", "jpeg", "jpeg", [0.26, 0.5, 1.0, 2.0], lambda x: 250 / (1 + x), lambda x: 0.05 / (1 + 3 * x))
    add("jpeg_ps", "jpeg q20", "jpeg", [0.8 + 24 * g for g in gammas],
        lambda x: 130 * (1 - (x - 0.8) / 24) ** 3, lambda x: 0.015 * (1 - (x - 0.8) / 24), gammas)
    add("hybrid_low", "learned low", "genai", [0.3, 0.6, 1.2, 2.4], lambda x: 220 * np.exp(-0.6 * x),
        lambda x: 0.02 * np.exp(-0.4 * x))
    add("implicit", "pan frames", "genai", [2.0, 3.0, 4.0, 6.0], lambda x: 280 - 30 * x, lambda x: 0.08 - 0.01 * x,
        fid_set="pan frames")
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sweep_files(tmp_path_factory) -> tuple[Path, dict]:
    """One gnl_sweep run's files: points, fits (gc.fit_all), fig4 (gc.optimise), claims and
    gains over JPEG (gc.claims), summary.json; built once, copied into each test's root.
    Returns (folder, the CurveFits)."""
    out = tmp_path_factory.mktemp("gnl_sweep_files")
    points = _points()
    table, fits, fid_max = gc.fit_all(points, {})
    gnl = GnlConfig()
    settings = [(gc.PAPER_C_SG, 0.0), (gc.PAPER_C_SG, 0.5), (1.0, 0.5)]
    opt = gc.optimise(fits, gnl, settings, grid=8)
    claims, gains = gc.claims(fits, opt, ["low"], [0.5], gc.PAPER_C_SG)
    for name, frame in (("points", points), ("fits", table), ("fig4", opt), ("claims", claims),
                        ("gains_over_jpeg", gains)):
        frame.to_parquet(out / f"{name}.parquet", index=False)
    summary = {"name": "gnl_sweep", "n_images": 4, "fid_max_pe_fit_at_0": fid_max,
               "capacities": {"c_sr": gnl.c_sr, "c_rd": gnl.c_rd, "c_sg": gnl.c_sg, "c_gd": gnl.c_gd, "L": gc.RAW_BPP},
               "fits": table.to_dict("records"), "claims": claims.to_dict("records")}
    (out / "summary.json").write_text(json.dumps(summary, default=float))
    return out, fits


def synthetic_sweep(root: Path, files: tuple[Path, dict]) -> Path:
    """The sweep's files as the newest finished gnl_sweep run under `root`."""
    return Path(shutil.copytree(files[0], root / "gnl_sweep" / STAMP))


def _flow_run(root: Path, scenario: str, stamp: str, flows: dict, edges: list[dict] | None = None,
              finished: bool = True) -> Path:
    """An ns-3 flow run: flows.csv (quantity, analytic, measured, relative_error) [+ edges.csv]."""
    out = root / scenario / stamp
    out.mkdir(parents=True)
    table = pd.DataFrame([{"quantity": q, "analytic": a, "measured": m} for q, (a, m) in flows.items()])
    table["relative_error"] = (table["measured"] - table["analytic"]) / table["analytic"]
    table.to_csv(out / "flows.csv", index=False)
    if edges is not None:
        pd.DataFrame(edges).to_csv(out / "edges.csv", index=False)
    if finished:
        (out / "summary.json").write_text(json.dumps({"name": scenario}))
    return out


FIG1 = {"f_sg": (0.5145, 0.5201), "f_gd": (24.0, 23.90), "f_rd": (1.0, 1.02), "y_g": (23.49, 23.38),
        "flow_gain": (6.613, 6.589)}


def synthetic_flow_runs(root: Path) -> dict[str, Path]:
    """gnl_fig1 (no edges.csv; a newer unfinished run beside it), gnl_two_genai (edges.csv), and
    two results folders that are no ns-3 flow runs."""
    fig1 = _flow_run(root, "gnl_fig1", STAMP, FIG1)
    _flow_run(root, "gnl_fig1", "20000102-000000", FIG1, finished=False)   # no summary.json: not finished
    edges = [{"u": u, "v": v, "capacity": c, "prompt_flow": p, "generated_flow": g, "classical_flow": k,
              "analytic_flow": p + g + k, "measured_flow": m} for u, v, c, p, g, k, m in [
        ("s", "r", 1.0, 0.0, 0.0, 1.0, 1.01), ("r", "d", 1.0, 0.0, 0.0, 1.0, 1.01),
        ("s", "g1", 2.0, 0.5, 0.0, 0.0, 0.51), ("s", "g2", 1.0, 0.25, 0.0, 0.0, 0.26),
        ("g1", "d", 24.0, 0.0, 24.0, 0.0, 23.8), ("g2", "d", 12.0, 0.0, 12.0, 0.0, 11.9)]]
    two = _flow_run(root, "gnl_two_genai", STAMP, {
        "f_sg": (0.75, 0.77), "y[g1]": (23.5, 23.29), "y[g2]": (11.75, 11.64), "y_g": (35.25, 34.93),
        "flow_gain": (9.81, 9.73)}, edges)
    # the newest finished run has no flows.csv (an older one had): not a flow run now
    _flow_run(root, "gnl_renamed", STAMP, FIG1)
    (root / "gnl_renamed" / "20000102-000000").mkdir()
    (root / "gnl_renamed" / "20000102-000000" / "summary.json").write_text("{}")
    (root / "meg_sweep" / STAMP).mkdir(parents=True)
    (root / "meg_sweep" / STAMP / "summary.json").write_text("{}")
    return {"gnl_fig1": fig1, "gnl_two_genai": two}


def _legend(fig, i: int) -> list[str]:
    return [label.split(":")[0] for label in fig.axes[i].get_legend_handles_labels()[1]]


def test_notebook_is_clean_nbformat_v4():
    cells = clean_notebook_cells(NOTEBOOK)
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for figure in ("Fig. 2", "Fig. 3", "Fig. 4", "G_flow", "./run.sh configs/gnl_sweep.json"):
        assert figure in text


@pytest.mark.slow
def test_notebook_draws_every_curve_and_every_flow_run(tmp_path, monkeypatch, sweep_files):
    sweep_dir = synthetic_sweep(tmp_path, sweep_files)
    opt = pd.read_parquet(sweep_dir / "fig4.parquet")
    runs = synthetic_flow_runs(tmp_path)
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(tmp_path))
    ns = run_notebook(NOTEBOOK)

    assert ns["sweep_dir"] == sweep_dir
    assert ns["curves"] == CURVES
    # Figs. 2 and 3: every curve with its fitted line, in both metrics (and in the legends)
    assert ns["drawn"] == {"P": CURVES, "D": CURVES}
    labels = [*CURVES[:-1], "implicit (pan frames)"]   # its FID is on another set: the legend says so
    assert _legend(ns["fig23"], 0) == labels and _legend(ns["fig23"], 1) == labels
    for key, fit in sweep_files[1].items():   # rebuilt from fits.parquet: the functions gnl_curves fitted
        rebuilt = ns["fitted"][key]
        assert rebuilt.family == fit.family and np.allclose(rebuilt([2.5, 3.0, 5.0]), fit([2.5, 3.0, 5.0])), key
    assert len(ns["fitted"]) == 2 * len(CURVES)
    # Fig. 4 at the paper's c_sg: every curve feasible there; G_flow vs c_sg at the one weight swept
    assert ns["c_sg"] == gc.PAPER_C_SG
    at = opt[(opt["c_sg"] == gc.PAPER_C_SG) & opt["feasible"]]
    for metric in gc.METRICS:
        expected = [c for c in CURVES if c in set(at.loc[at["metric"] == metric, "curve"])]
        assert ns["fig4_drawn"][metric] == expected and len(expected) >= 5
    assert ns["weights"] == [0.5]
    assert ns["claims"].equals(pd.read_parquet(sweep_dir / "claims.parquet"))
    # ns-3 flow runs: the newest finished run of each scenario that has flows.csv
    assert ns["flow_runs"] == runs
    assert list(ns["flows"]) == ["gnl_fig1", "gnl_two_genai"]
    assert ns["flows"]["gnl_two_genai"]["quantity"].tolist()[1] == "y[g1]"
    assert list(ns["topologies"]) == ["gnl_two_genai"]
    graph = ns["topologies"]["gnl_two_genai"]
    assert graph.number_of_edges() == 6 and graph.edges["s", "g1"]["capacity"] == 2.0
    assert ns["edge_tables"]["gnl_two_genai"]["analytic_flow"].tolist() == [1.0, 1.0, 0.5, 0.25, 24.0, 12.0]


def test_notebook_without_a_sweep_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    runs = synthetic_flow_runs(tmp_path)
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(tmp_path))
    ns = run_notebook(NOTEBOOK)
    assert "./run.sh configs/gnl_sweep.json" in capsys.readouterr().out
    assert ns["sweep_dir"] is None and ns["curves"] == [] and ns["drawn"] == {"P": [], "D": []}
    assert ns["flow_runs"] == runs and list(ns["topologies"]) == ["gnl_two_genai"]


def test_a_curve_missing_from_the_tables_is_not_drawn(tmp_path, monkeypatch, sweep_files):
    """The curves drawn are exactly those of the tables (none hard-coded)."""
    drop = "jpeg_ps"
    out = synthetic_sweep(tmp_path, sweep_files)
    for name in ("points", "fits", "fig4"):
        frame = pd.read_parquet(out / f"{name}.parquet")
        frame[frame["curve"] != drop].to_parquet(out / f"{name}.parquet", index=False)
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(tmp_path))
    ns = run_notebook(NOTEBOOK)
    kept = [c for c in CURVES if c != drop]
    assert ns["drawn"] == {"P": kept, "D": kept} and ns["flow_runs"] == {}
