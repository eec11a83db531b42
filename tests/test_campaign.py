"""Campaigns (gensemcom.campaign): grid expansion and bad files without running anything; then
real campaigns of a small ns-3 scenario (latency_sweep's packet-level semantic link with
Rayleigh fading, 20 units a point, no models) on 1 and 2 local workers and on a real local Ray
cluster, a driver killed with SIGKILL and resumed, a worker killed in the middle of a point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gensemcom.campaign import parse_campaign
from gensemcom.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BASE = {"name": "tiny", "scenario": "latency_sweep",
        "latency_sweep": {"snr_db": [15.0], "units": 20, "phi": {"enabled": False},
                          "packet_runs": [{"scheme": "discrete", "fading": "rayleigh"}]}}
GRID = {"latency_sweep.snr_db.0": [8.0, 14.0, 20.0]}
SEEDS = [1, 2]
METRIC = "fig4_agreement.prompt_latency.max_abs_gap"


def _spec(name: str, tmp: Path, **changes) -> dict:
    return {"name": name, "base": BASE, "grid": GRID, "seeds": SEEDS, "output_dir": str(tmp),
            "metrics": [METRIC, "fig4_agreement.edge_latency.max_abs_gap"], **changes}


def test_grid_product_zip_spans_and_seeds():
    c = parse_campaign({"name": "c", "base": BASE, "seeds": [1, 2, 3],
                        "grid": {"latency_sweep.units": {"linspace": [10, 20, 3]},
                                 "latency_aware.alpha": {"range": [1.0, 2.0, 0.5]}},
                        "zip": [{"latency_sweep.snr_db.0": [5, 10], "latency_aware.beta": [4.0, 5.0]}]})
    assert c.axes == ("latency_sweep.units", "latency_aware.alpha", "latency_sweep.snr_db.0",
                      "latency_aware.beta", "seed")
    assert len(c.points) == 3 * 2 * 2 * 3
    assert {p.params["latency_sweep.units"] for p in c.points} == {10, 15, 20}
    assert {p.params["latency_aware.alpha"] for p in c.points} == {1.0, 1.5}
    assert {(p.params["latency_sweep.snr_db.0"], p.params["latency_aware.beta"]) for p in c.points} == {(5, 4.0), (10, 5.0)}
    point = c.points[-1]
    assert point.config.latency_sweep.units == 20 and point.config.latency_aware.beta == 5.0
    assert point.config.latency_sweep.snr_db == [10.0] and point.config.seed == 3
    assert len({p.id for p in c.points}) == len(c.points)


def test_point_id_is_the_config_not_the_campaign():
    a = parse_campaign({"name": "a", "base": BASE, "grid": GRID})
    b = parse_campaign({"name": "b", "base": BASE, "grid": GRID, "output_dir": "elsewhere"})
    assert [p.id for p in a.points] == [p.id for p in b.points]
    c = parse_campaign({"name": "a", "base": BASE, "grid": GRID, "set": {"latency_sweep.units": 30}})
    assert not {p.id for p in a.points} & {p.id for p in c.points}


def test_formatted_span():
    c = parse_campaign({"name": "c", "base": {"name": "x"}, "grid": {"app.rate": {"linspace": [1, 5, 3], "format": "{:g}Mbps"}}})
    assert [p.config.app.rate for p in c.points] == ["1Mbps", "3Mbps", "5Mbps"]


BAD = [
    ({"grdi": {}}, ["campaign error: grdi: unknown key"]),
    ({"grid": {"lte.nope.x": [1]}}, ["campaign error: grid.lte: no such key in the base config"]),
    ({"grid": {"latency_sweep.unitz": [10, 11]}}, ["config error: latency_sweep.unitz: unknown key (point latency_sweep.unitz=10)"]),
    ({"grid": {"latency_sweep.units": []}}, ["campaign error: grid.latency_sweep.units: no values"]),
    ({"grid": {}}, ["campaign error: grid: empty"]),
    ({"grid": {"latency_sweep.units": [10, 5, 3]}},
     ["config error: latency_sweep.units: Input should be greater than or equal to 10 (got 5) (point latency_sweep.units=5)",
      "config error: latency_sweep.units: Input should be greater than or equal to 10 (got 3) (point latency_sweep.units=3)"]),
    ({"zip": [{"latency_sweep.units": [10, 20], "latency_aware.alpha": [1.5]}]}, ["campaign error: zip.0: the keys need as many"]),
    ({"grid": {"latency_sweep.units": {"linspace": [1, 2]}}}, ["campaign error: grid.latency_sweep.units: linspace.2: Field required"]),
    ({"grid": {"latency_sweep.units": {"linspace": [10, 20, 3], "step": 2}}}, ["campaign error: grid.latency_sweep.units: step: unknown key"]),
    ({"grid": {"seed": [1, 2]}}, ["campaign error: seed: give replicates as `seeds`"]),
    ({"set": {"latency_sweep.units": 10}, "grid": {"latency_sweep.units": [10, 20]}},
     ["campaign error: latency_sweep.units: set or swept more than once"]),
    ({"grid": GRID, "engine": {"kind": "slurm"}}, ["campaign error: engine.kind: Input should be 'local' or 'ray'"]),
    ({"grid": GRID, "seeds": [0, 0]}, ["campaign error: seeds: "]),
    ({"grid": {"latency_sweep.snr_db.3": [10]}}, ["campaign error: grid.latency_sweep.snr_db.3: no item 3 (the list has 1)"]),
    ({"grid": {"latency_sweep.units.x": [10]}}, ["campaign error: grid.latency_sweep.units.x: latency_sweep.units is a value"]),
    ({"grid": {"latency_sweep.units": [10, 10.0]}}, ["campaign error: grid: two points have the same config"]),
    ({"base": "configs/missing.json", "grid": GRID}, ["config error: file not found"]),
    ({"base": {"name": "x", "lte": {"bandwith_rb": 25}}, "grid": GRID}, ["config error: lte.bandwith_rb: unknown key"]),
]


@pytest.mark.parametrize("changes, lines", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_campaign_is_one_line_per_problem_before_anything_runs(tmp_path, changes, lines):
    spec = {"name": "bad", "base": BASE, "output_dir": str(tmp_path), **changes}
    with pytest.raises(ConfigError) as err:
        parse_campaign(spec)
    got = str(err.value).splitlines()
    assert len(got) == len(lines), got
    for line, expected in zip(got, lines):
        assert line.startswith(expected), got


def test_bad_campaign_through_the_cli(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "base": BASE, "output_dir": str(tmp_path),
                                "grid": {"latency_sweep.units": [10, 5]}}))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("config error: latency_sweep.units: Input should be greater")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "campaigns").exists()
    (tmp_path / "junk.json").write_bytes(b"\xff\xfe{")
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "campaign", str(tmp_path / "junk.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# -- real campaigns -------------------------------------------------------------------------

def _campaign(spec: dict, tmp: Path, *extra: str, wait: bool = True):
    path = tmp / f"{spec['name']}.json"
    path.write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "gensemcom", "campaign", str(path), *extra]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


def _outputs(folder: Path) -> dict:
    """Every point's results, by point id: its summary (paths aside) and its tables."""
    out = {}
    for point in sorted((folder / "points").glob("[!.]*")):
        summary = json.loads((point / "summary.json").read_text())
        summary.pop("results", None)
        summary.pop("name", None)  # the campaign's name
        tables = {f.name: pd.read_parquet(f) for f in sorted(point.glob("*.parquet"))}
        out[point.name] = (summary, tables)
    return out


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for pid in a:
        assert a[pid][0] == b[pid][0], pid
        assert a[pid][1].keys() == b[pid][1].keys()
        for name in a[pid][1]:
            pd.testing.assert_frame_equal(a[pid][1][name], b[pid][1][name], obj=f"{pid}/{name}")


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "points.parquet").drop(columns=["wall_s"]).sort_values("point").reset_index(drop=True)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaign1")
    proc = _campaign(_spec("w1", tmp, engine={"kind": "local", "workers": 1}), tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "campaigns" / "w1"


pytestmark_e2e = [pytest.mark.ns3, pytest.mark.e2e, pytest.mark.slow]


def e2e(test):
    for mark in pytestmark_e2e:
        test = mark(test)
    return test


@e2e
def test_tables_and_provenance(one_worker):
    points = pd.read_parquet(one_worker / "points.parquet")
    assert len(points) == 6 and set(points["status"]) == {"ok"}
    assert list(points.columns[:3]) == ["point", "latency_sweep.snr_db.0", "seed"]
    assert points[METRIC].notna().all() and points[METRIC].nunique() > 1
    agg = pd.read_parquet(one_worker / "aggregate.parquet")
    assert len(agg) == 3 and (agg["replicates"] == 2).all()
    assert agg[f"{METRIC}.ci95"].notna().all()
    mean = points.groupby("latency_sweep.snr_db.0")[METRIC].mean()
    assert agg.set_index("latency_sweep.snr_db.0")[METRIC].to_dict() == pytest.approx(mean.to_dict())
    info = json.loads(next((one_worker / "points").glob("[!.]*/point.json")).read_text())
    prov = info["provenance"]
    assert len(prov["commit"]) == 40 and isinstance(prov["dirty"], bool)
    assert prov["versions"]["ns3"] and prov["versions"]["torch"] and prov["host"]
    assert any(k.startswith("pyagents/weights/") for k in prov["weights"])
    # A second run of the same campaign runs nothing and changes no row.
    before = _table(one_worker)
    proc = _campaign(json.loads((one_worker / "campaign.json").read_text())["spec"], one_worker.parent.parent)
    assert proc.returncode == 0 and "0 run now" in proc.stdout, proc.stdout
    pd.testing.assert_frame_equal(before, _table(one_worker))


@e2e
def test_same_results_with_two_workers_and_with_ray(one_worker, tmp_path):
    """1 worker runs every point after others in one process; 2 workers and Ray in other
    orders and processes; a point alone through `gensemcom run` in a fresh process."""
    two = _campaign(_spec("w2", tmp_path, engine={"kind": "local", "workers": 2}), tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    ray = _campaign(_spec("ray2", tmp_path, engine={"kind": "ray", "workers": 2, "cpus_per_point": 1}), tmp_path)
    assert ray.returncode == 0, ray.stderr[-3000:]
    reference = _outputs(one_worker)
    _same(reference, _outputs(tmp_path / "campaigns" / "w2"))
    _same(reference, _outputs(tmp_path / "campaigns" / "ray2"))
    for name in ("w2", "ray2"):
        pd.testing.assert_frame_equal(_table(one_worker).drop(columns=["commit"]),
                                      _table(tmp_path / "campaigns" / name).drop(columns=["commit"]))
    last = sorted((one_worker / "points").glob("[!.]*"))[-1]
    config = json.loads((last / "config.json").read_text())
    config["output_dir"] = str(tmp_path / "alone")
    (tmp_path / "alone.json").write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(tmp_path / "alone.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    alone = next((tmp_path / "alone").glob("*/*"))
    for f in sorted(last.glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(alone / f.name), obj=f.name)


def _children(pid: int, needle: str) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == pid and needle in cmdline:
            out.append(int(stat.parent.name))
    return out


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@e2e
def test_driver_killed_and_resumed_equals_an_uninterrupted_campaign(one_worker, tmp_path):
    spec = _spec("killed", tmp_path, engine={"kind": "local", "workers": 1})
    folder = tmp_path / "campaigns" / "killed"
    driver = _campaign(spec, tmp_path, wait=False)
    _wait_for(lambda: len(list((folder / "points").glob("[!.]*/point.json"))) >= 2, 600, "two finished points")
    workers = _children(driver.pid, "gensemcom.campaign.worker")
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # The worker (and so its point in flight) dies with the driver.
    _wait_for(lambda: not any(Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]
                              for w in workers), 5, "the worker to exit")
    done_before = {p.name for p in (folder / "points").glob("[!.]*")}
    proc = _campaign(spec, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{6 - len(done_before)} run now" in proc.stdout
    assert not list((folder / "points").glob(".tmp-*"))
    pd.testing.assert_frame_equal(_table(one_worker), _table(folder))
    _same(_outputs(one_worker), _outputs(folder))


@e2e
def test_a_worker_dying_mid_point_fails_that_point_only(tmp_path):
    spec = _spec("crash", tmp_path, engine={"kind": "local", "workers": 1})
    folder = tmp_path / "campaigns" / "crash"
    driver = _campaign(spec, tmp_path, wait=False)
    _wait_for(lambda: list((folder / "points").glob(".tmp-*")), 600, "a point in flight")
    victim = _wait_for(lambda: _children(driver.pid, "gensemcom.campaign.worker"), 10, "the worker")[0]
    os.kill(victim, signal.SIGKILL)
    out, err = driver.communicate(timeout=900)
    assert driver.returncode == 1, err[-3000:]
    assert "6 run now, 1 failed" in out and "worker exited with code -9" in out
    failed = list((folder / "failed").glob("*.json"))
    assert len(failed) == 1 and "code -9" in json.loads(failed[0].read_text())["error"]
    points = pd.read_parquet(folder / "points.parquet")
    assert sorted(points["status"]) == ["failed"] + ["ok"] * 5
    # A rerun runs only the failed point.
    proc = _campaign(spec, tmp_path)
    assert proc.returncode == 0 and "1 run now" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert set(pd.read_parquet(folder / "points.parquet")["status"]) == {"ok"}
    assert not list((folder / "failed").glob("*.json"))


def test_every_campaign_key_is_documented():
    from gensemcom.campaign.spec import CampaignSpec, EngineConfig

    doc = (ROOT / "docs" / "campaigns.md").read_text()
    keys = [k for k in CampaignSpec.model_fields if k != "engine"] + [f"engine.{k}" for k in EngineConfig.model_fields]
    assert [k for k in keys if f"| `{k}` |" not in doc] == []


@e2e
def test_notebook_draws_from_the_campaign_tables(one_worker, monkeypatch):
    from helpers.notebooks import clean_notebook_cells, run_notebook

    notebook = ROOT / "analysis" / "campaign.ipynb"
    clean_notebook_cells(notebook)
    monkeypatch.setenv("GENSEMCOM_RESULTS_ROOT", str(one_worker.parent.parent))
    monkeypatch.setenv("GENSEMCOM_CAMPAIGN", one_worker.name)
    ns = run_notebook(notebook)
    assert ns["params"] == ["latency_sweep.snr_db.0"] and len(ns["points"]) == 6
    assert ns["metrics"] == [METRIC, "fig4_agreement.edge_latency.max_abs_gap"]
