"""Scenario meg_sweep without models or ns-3: config expansion into scenario-meg runs, config
errors, aggregation, figures, and the notebook (run headless on a synthetic results folder)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gensemcom.analysis import meg_figures, meg_results, results
from gensemcom.config import ConfigError, load_config, parse_config
from gensemcom.scenarios.meg.sweep import sweep_points
from helpers.notebooks import clean_notebook_cells, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "analysis" / "meg.ipynb"


def _config(**sweep) -> dict:
    data = json.loads((ROOT / "configs" / "meg_sweep.json").read_text())
    data["meg"]["sweep"].update(sweep)
    return data


# -- config expansion ----------------------------------------------------------------------

def test_shipped_sweep_expands_into_meg_runs():
    cfg = load_config(ROOT / "configs" / "meg_sweep.json")
    assert cfg.meg.compute.kind == "fixed"   # reproducible response times
    points = sweep_points(cfg)
    assert [p.label for p in points] == ["ues_1", "ues_2", "ues_4", "ues_8", "ess_2", "ess_3", "ess_4",
                                         "snr_-20", "snr_-10", "snr_0", "snr_10", "snr_20"]
    for p in points:
        m = p.cfg.meg
        assert p.cfg.scenario == "meg" and p.cfg.seed == cfg.seed and p.cfg.lte == cfg.lte
        if p.series == "ues":
            assert len(m.ue_distances_m) == p.x and m.num_es == 1 and m.snr_db == cfg.meg.snr_db
            assert m.protocols == cfg.meg.sweep.ue_protocols and not m.reference
        elif p.series == "ess":
            assert len(m.ue_distances_m) == 1 and m.num_es == p.x and not m.reference
            assert m.protocols == ["uidg", "diug", "dsuc", "uidcg", "dcsuc"]
        else:
            assert m.snr_db == p.x and m.num_es == 2 and m.reference and len(m.protocols) == 11


def test_ue_distances_cycle_and_empty_series_are_skipped():
    data = _config(ue_counts=[3], es_counts=[], snr_protocols=[])
    data["meg"]["ue_distances_m"] = [100.0, 200.0]
    (point,) = sweep_points(parse_config(data))
    assert point.label == "ues_3" and point.cfg.meg.ue_distances_m == [100.0, 200.0, 100.0]


@pytest.mark.parametrize("sweep, message", [
    ({"es_counts": [1, 2]}, "meg.sweep.es_counts: the multi-ES protocols need at least 2"),
    ({"ue_protocols": ["ciag", "uidg"], "ue_num_es": 1}, "meg.sweep.ue_num_es: multi-ES protocols ['uidg']"),
    ({"snr_num_es": 1}, "meg.sweep.snr_num_es: multi-ES protocols"),
    ({"ue_counts": [2, 2]}, "meg.sweep.ue_counts: must be distinct counts"),
    ({"ue_counts": [0]}, "meg.sweep.ue_counts: must be distinct counts in [1, 32]"),
    ({"es_counts": [2, 9]}, "at most 8 edge servers"),
    ({"snr_db": [-50.0]}, "meg.sweep.snr_db: must be distinct SNRs"),
    ({"es_protocols": ["ciag"]}, "meg.sweep.es_protocols.0"),
    ({"ue_counts": [], "es_protocols": [], "snr_db": []}, "every series is empty"),
    ({"bogus": 1}, "meg.sweep.bogus: unknown key"),
])
def test_bad_sweep_configs_are_clear_errors(sweep, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_config(**sweep))
    assert message in str(err.value)


# -- aggregation and figures ---------------------------------------------------------------

def _requests() -> pd.DataFrame:
    rows, rid = [], 0
    for series, xs, protocols in (("ues", [1, 2], ["full_es", "ciag"]), ("ess", [2, 3], ["uidcg"]),
                                  ("snr", [-20.0, 20.0], ["ciag", "uidg"])):
        for x in xs:
            for p in protocols:
                for ue in range(int(x) if series == "ues" else 1):
                    ok = not (series == "ues" and x == 2 and p == "full_es" and ue == 1)  # one timeout
                    rows.append({"rid": rid, "series": series, "x": float(x), "point": f"{series}_{x:g}",
                                 "protocol": p, "status": "ok" if ok else "timeout",
                                 "response_s": 0.5 + 0.1 * x + 0.01 * ue if ok else np.nan,
                                 "compute_ue_s": 0.1, "compute_es_s": 0.2 * x,
                                 "psnr_db": 15.0 + x / 10, "lpips": 0.5 - x / 100,
                                 "psnr_ref_db": 20.0 + x / 2, "lpips_ref": 0.3 - x / 100,
                                 "inception_cosine": 0.8 + x / 1000})
                    rid += 1
    return pd.DataFrame(rows)


def test_response_table_means_over_finished_requests():
    t = meg_results.response_table(_requests()).set_index(["series", "x", "protocol"])
    assert set(t.index.get_level_values("series")) == {"ues", "ess"}
    row = t.loc[("ues", 2.0, "full_es")]
    assert row["requests"] == 2 and row["requests_ok"] == 1
    assert row["response_s"] == pytest.approx(0.7) and row["response_max_s"] == pytest.approx(0.7)
    row = t.loc[("ues", 2.0, "ciag")]
    assert row["requests_ok"] == 2 and row["response_s"] == pytest.approx(0.705)
    assert t.loc[("ess", 3.0, "uidcg"), "compute_es_s"] == pytest.approx(0.6)


def test_quality_table_per_snr_and_protocol():
    q = meg_results.quality_table(_requests())
    assert list(q.columns[:4]) == ["snr_db", "protocol", "requests", "requests_ok"]
    row = q.set_index(["snr_db", "protocol"]).loc[(-20.0, "uidg")]
    assert row["psnr_db"] == pytest.approx(13.0) and row["psnr_ref_db"] == pytest.approx(10.0)
    assert row["lpips"] == pytest.approx(0.7)


def _with_features(requests: pd.DataFrame, n_per_point: dict) -> pd.DataFrame:
    """SNR-series requests with synthetic Inception features: n_per_point[(snr, protocol)]
    delivered images per point (extra rows are copies of the first, new rids)."""
    rng = np.random.default_rng(1)
    rows = []
    for _, row in requests[requests["series"] == "snr"].iterrows():
        for k in range(n_per_point.get((row["x"], row["protocol"]), 1)):
            f_in = np.abs(rng.normal(size=64)).astype(np.float32)
            f_out = f_in + np.abs(rng.normal(scale=0.5 + abs(row["x"]) / 40, size=64)).astype(np.float32)
            rows.append({**row.to_dict(), "rid": len(rows), meg_results.FEATURES: f_out, meg_results.FEATURES_INPUT: f_in,
                         "inception_cosine": meg_results.inception_cosine(f_out, f_in)})
    return pd.DataFrame(rows)


def test_inception_cosine_is_one_for_identical_features_and_nan_for_zero():
    f = np.abs(np.random.default_rng(0).normal(size=2048))
    assert meg_results.inception_cosine(f, f) == pytest.approx(1.0)
    assert meg_results.inception_cosine(f, 2 * f) == pytest.approx(1.0)
    assert meg_results.inception_cosine(f, f + np.abs(np.random.default_rng(1).normal(size=2048))) < 1.0
    assert np.isnan(meg_results.inception_cosine(f, np.zeros_like(f)))


def test_fid_substitute_on_real_inception_features():
    """The substitute through the real Inception-v3 (analysis.fid): 1 for the same image, lower
    for a noisy copy, lower still for more noise; NaN and no features where nothing arrived."""
    from gensemcom.analysis import fid as F
    try:
        F.model_file()
    except FileNotFoundError as e:  # pragma: no cover
        pytest.skip(str(e))
    yy, xx = np.mgrid[0:64, 0:64]
    image = np.stack([xx * 4, yy * 4, (xx + yy) * 2], axis=-1).astype(np.uint8)
    image[16:48, 16:48] = [200, 40, 40]
    rng = np.random.default_rng(0)

    def noisy(sigma):
        return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)

    cos, feats, feats_in = meg_results.inception_scores([image.copy(), noisy(20), noisy(80), None], [image] * 4)
    assert cos[0] == pytest.approx(1.0, abs=1e-6)
    assert cos[2] < cos[1] < 0.999
    assert np.isnan(cos[3]) and feats[3] is None and feats_in[3] is None
    assert feats[0].dtype == np.float32 and feats[0].shape == (2048,)
    np.testing.assert_array_equal(feats_in[0], feats_in[2])   # one input, featurised once


def test_quality_table_fid_kid_only_where_n_at_least_two():
    r = _with_features(_requests(), {(-20.0, "ciag"): 3, (20.0, "ciag"): 2})
    q = meg_results.quality_table(r).set_index(["snr_db", "protocol"])
    assert {"inception_cosine", "fid_n", "fid", "kid", "kid_std"} <= set(q.columns)
    assert q.loc[(-20.0, "ciag"), "fid_n"] == 3 and q.loc[(20.0, "ciag"), "fid_n"] == 2
    assert q.loc[(-20.0, "uidg"), "fid_n"] == 1 and np.isnan(q.loc[(-20.0, "uidg"), "fid"])
    assert np.isnan(q.loc[(-20.0, "uidg"), "kid"])
    for snr in (-20.0, 20.0):
        assert np.isfinite(q.loc[(snr, "ciag"), ["fid", "kid", "kid_std"]].astype(float)).all()
    sub = r[(r["x"] == -20.0) & (r["protocol"] == "ciag")]
    assert q.loc[(-20.0, "ciag"), "inception_cosine"] == pytest.approx(sub["inception_cosine"].mean())
    md = meg_results.sweep_markdown(meg_results.response_table(r), meg_results.quality_table(r))
    assert "| inception_cosine vs input (FID substitute, per-image mean) |" in md
    assert "| FID / KID vs input (n) |" in md and "(n=3)" in md and "– (n=1)" in md
    # per protocol, as a single run reports it
    per = meg_results.per_protocol(r).set_index("protocol")
    assert per.loc["ciag", "fid_n"] == 5 and np.isfinite(per.loc["ciag", "fid"])
    assert per.loc["uidg", "fid_n"] == 2 and np.isfinite(per.loc["uidg", "fid"])


def test_per_protocol_markdown_and_figure_carry_the_substitute(tmp_path):
    r = _with_features(_requests(), {(-20.0, "ciag"): 2})
    r.to_parquet(tmp_path / "requests.parquet", index=False)
    back = pd.read_parquet(tmp_path / "requests.parquet")
    per = meg_results.per_protocol(back)
    assert list(per.columns[-6:]) == ["inception_cosine", "fid_n", "fid", "kid", "kid_std", "requests"]
    assert per.set_index("protocol").loc["ciag", "fid_n"] == 3
    table = pd.DataFrame([{"protocol": p, "uplink_bits": 8e3, "downlink_bits": 8e3, "total_bits": 16e3,
                           "reduction_vs_full_es": np.nan, "paper_uplink_bits": None, "paper_downlink_bits": None,
                           "paper_total_bits": None, "paper_reduction": None} for p in ("ciag", "uidg")])
    md = meg_results.markdown(table, per)
    assert "| inception_cosine (FID substitute) | FID / KID vs input (n) |" in md
    assert "(n=3) |" in md and "not FID" in md and "biased estimator" in md
    meg_figures.figure(table, per, back, tmp_path / "meg.png")
    assert (tmp_path / "meg.png").stat().st_size > 1000


def test_quality_figure_has_the_substitute_panel_and_a_fid_note():
    fig = meg_figures.quality_figure(meg_results.quality_table(_requests()))
    titles = [a.get_title() for a in fig.axes]
    assert titles[2].startswith("Inception-feature cosine vs input") and "FID substitute" in titles[2]
    assert "FID / KID not computed" in fig.axes[5].texts[0].get_text()
    fig = meg_figures.quality_figure(meg_results.quality_table(_with_features(_requests(), {(-20.0, "ciag"): 2})))
    assert fig.axes[5].get_title().startswith("FID vs input")


def test_empty_series_give_empty_tables_and_figures(tmp_path):
    only_snr = _requests().query("series == 'snr'")
    assert meg_results.response_table(only_snr).empty
    assert meg_results.quality_table(_requests().query("series != 'snr'")).empty
    meg_figures.response_figure(meg_results.response_table(only_snr), tmp_path / "r.png")
    assert (tmp_path / "r.png").is_file()


def test_sweep_markdown_tables():
    r = _requests()
    md = meg_results.sweep_markdown(meg_results.response_table(r), meg_results.quality_table(r))
    assert "| mean response (ms) | 1 UEs | 2 UEs |" in md and "| full_es | 600 | 700 |" in md
    assert "| mean response (ms) | 2 ESs | 3 ESs |" in md
    assert "| ciag | 13.0 / 10.0 / 0.700 | 17.0 / 30.0 / 0.300 |" in md
    assert "| ciag | 0.780 | 0.820 |" in md                  # the FID substitute, its own table
    assert "FID / KID: not computed, at most n = 0" in md and "biased estimator" in md


def _grid() -> pd.DataFrame:
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    rows = [{"protocol": "input", "column": "input", "snr_db": np.nan, "status": "ok", "psnr_db": np.nan,
             "lpips": np.nan, "png": meg_results.png_bytes(img)}]
    for p in ("ciag", "uidg"):
        rows.append({"protocol": p, "column": "noiseless", "snr_db": np.nan, "status": "ok", "psnr_db": np.nan,
                     "lpips": np.nan, "png": meg_results.png_bytes(img)})
        for snr in (-20.0, 20.0):
            delivered = p != "uidg" or snr > 0
            rows.append({"protocol": p, "column": f"{snr:g} dB", "snr_db": snr, "status": "ok" if delivered else "timeout",
                         "psnr_db": 12.0, "lpips": 0.4, "png": meg_results.png_bytes(img) if delivered else None})
    return pd.DataFrame(rows)


def test_png_round_trip_and_grid_through_parquet(tmp_path):
    grid = _grid()
    grid.to_parquet(tmp_path / "grid.parquet", index=False)
    back = pd.read_parquet(tmp_path / "grid.parquet")
    assert np.array_equal(meg_results.png_image(back["png"][0]), meg_results.png_image(grid["png"][0]))
    assert meg_results.png_image(None) is None and meg_results.png_bytes(None) is None
    fig = meg_figures.grid_figure(back)
    assert fig.axes[0].get_title() == "input" and [a.get_title() for a in fig.axes[:4]] == \
        ["input", "noiseless", "-20 dB", "20 dB"]
    meg_figures.grid_figure(back, tmp_path / "grid.png", "t")
    assert (tmp_path / "grid.png").stat().st_size > 1000


# -- the notebook --------------------------------------------------------------------------

def test_notebook_is_nbformat_v4_and_imports_only_analysis_pandas_matplotlib():
    for cell in clean_notebook_cells(NOTEBOOK):
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Import):
                    assert all(a.name.split(".")[0] in ("pandas", "matplotlib") for a in node.names)
                elif isinstance(node, ast.ImportFrom):
                    assert node.module == "gensemcom.analysis" or node.module.split(".")[0] in ("pandas", "matplotlib")


def synthetic_sweep_results(root: Path) -> Path:
    """A results root holding one fake meg_sweep run with the sweep's Parquet files."""
    out = root / "meg_sweep" / "20000101-000000"
    out.mkdir(parents=True)
    r = _requests()
    r["image"], r["ue"] = "kodim23", "ue0"
    r.to_parquet(out / "requests.parquet", index=False)
    meg_results.response_table(r).to_parquet(out / "response.parquet", index=False)
    meg_results.quality_table(r).to_parquet(out / "quality.parquet", index=False)
    _grid().to_parquet(out / "grid.parquet", index=False)
    overhead = pd.DataFrame([{"protocol": p, "uplink_bits": 8e3, "downlink_bits": 8e3, "messages": 2.0, "requests_ok": 1,
                              "total_bits": 16e3, "reduction_vs_full_es": np.nan, "paper_uplink_bits": None,
                              "paper_downlink_bits": None, "paper_total_bits": None, "paper_reduction": None,
                              "paper_note": "not in the paper", "series": "snr", "x": x, "point": f"snr_{x:g}"}
                             for x in (-20.0, 20.0) for p in ("ciag", "uidg")])
    overhead.to_parquet(out / "overhead.parquet", index=False)
    (out / "summary.json").write_text("{}")
    return out


@pytest.mark.slow
def test_notebook_runs_headless_on_a_sweep_folder(tmp_path, monkeypatch):
    synthetic_sweep_results(tmp_path)
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(tmp_path))
    ns = run_notebook(NOTEBOOK)
    assert ns["sweep_dir"].parent == tmp_path / "meg_sweep"
    assert list(ns["runs"]) == ["meg_sweep snr_-20"]


def test_results_folder_picks_the_newest_finished_run(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ROOT_ENV, str(tmp_path))
    assert results.results_folder("meg_sweep", required=False) is None
    with pytest.raises(FileNotFoundError, match="run ./run.sh configs/meg_sweep.json"):
        results.results_folder("meg_sweep")
    for stamp, finished in (("20260101-000000", True), ("20260102-000000", True), ("20260103-000000", False)):
        (tmp_path / "meg_sweep" / stamp).mkdir(parents=True)
        if finished:
            (tmp_path / "meg_sweep" / stamp / "summary.json").write_text("{}")
    assert results.results_folder("meg_sweep").name == "20260102-000000"
