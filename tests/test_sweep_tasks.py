"""A sweep's points on the campaign engine (gensemcom.campaign.tasks): the same results as the
sequential loop, whatever the worker count, resumable, failures kept apart."""
from __future__ import annotations

import dataclasses
import json
import logging

import pandas as pd
import pytest

from gensemcom.analysis import latency_aware as la
from gensemcom.campaign.tasks import Task, run_tasks
from gensemcom.config import ConfigError, LatencyAwareConfig, parse_config
from gensemcom.config.engine import EngineConfig
from gensemcom.core import ns3
from gensemcom.scenarios.latency_aware import packet_points as pp

CALL = "gensemcom.scenarios.latency_aware.packet_points:measure_point_task"
SPECS = [pp.PointSpec(20.0, 1e-5, "discrete", "rayleigh", units=40, seed=11),
         pp.PointSpec(8.0, 1e-4, "discrete", "rayleigh", units=40, seed=12),
         pp.PointSpec(14.0, 1e-3, "continuous", "awgn", units=40, seed=13)]


def _tasks(specs) -> list[Task]:
    la_cfg = LatencyAwareConfig().model_dump()
    return [Task(CALL, {"spec": dataclasses.asdict(s), "latency_aware": la_cfg}, f"point {i}")
            for i, s in enumerate(specs)]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "store"
    return folder, run_tasks(_tasks(SPECS), folder, EngineConfig(workers=2), "test points")


@pytest.mark.slow
def test_points_on_two_workers_equal_the_sequential_loop(two_workers):
    _, folders = two_workers
    # The loop the sweeps ran before, in this process, in the reverse order: a point's results
    # depend on nothing that ran before it.
    ns, p = ns3.load_ns(), la.link_params(LatencyAwareConfig())
    expected = {s: pp.measure_point(ns, s, p) for s in reversed(SPECS)}
    for spec, folder in zip(SPECS, folders):
        row, units = pp.read_point(folder)
        want_row, want_units = expected[spec]
        assert json.dumps(row, sort_keys=True) == json.dumps(want_row, sort_keys=True, default=float)
        pd.testing.assert_frame_equal(units, want_units)
        assert json.loads((folder / "point.json").read_text())["params"]["label"].startswith("point")


@pytest.mark.slow
def test_a_rerun_runs_nothing_and_a_new_point_alone(two_workers, caplog):
    folder, folders = two_workers
    before = {f: (f / "row.json").stat().st_mtime_ns for f in folders}
    with caplog.at_level(logging.INFO, logger="gensemcom.campaign"):
        again = run_tasks(_tasks(SPECS), folder, EngineConfig(workers=2), "test points")
    assert again == folders and {f: (f / "row.json").stat().st_mtime_ns for f in folders} == before
    assert "all 3 done already" in caplog.text
    extra = pp.PointSpec(5.0, 1e-5, "discrete", "awgn", units=20, seed=14)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gensemcom.campaign"):
        more = run_tasks(_tasks(SPECS + [extra]), folder, EngineConfig(workers=2), "test points")
    assert more[:3] == folders and "1 to run" in caplog.text


@pytest.mark.slow
def test_a_failing_point_fails_the_sweep_in_one_line_and_keeps_the_others(tmp_path):
    bad = dataclasses.replace(SPECS[0], scheme="bogus")
    folder = tmp_path / "store"
    with pytest.raises(RuntimeError, match=r"^1 of 2 test points failed .*ValueError: scheme must be one of") as err:
        run_tasks(_tasks([bad, SPECS[1]]), folder, EngineConfig(workers=1), "test points")
    assert "\n" not in str(err.value)
    failed = list((folder / "failed").glob("*.json"))
    assert len(failed) == 1 and "Traceback" in json.loads(failed[0].read_text())["traceback"]
    assert len([d for d in (folder / "points").iterdir() if not d.name.startswith(".")]) == 1


def test_task_ids_follow_function_args_and_code():
    a, b = _tasks(SPECS[:2])
    assert a.id("c1") == Task(a.call, json.loads(json.dumps(a.args)), "other label").id("c1")
    assert len({a.id("c1"), b.id("c1"), a.id("c2")}) == 3


def test_sweep_engine_is_validated_like_any_key():
    with pytest.raises(ConfigError, match=r"latency_sweep\.engine\.workers: Input should be greater than or equal to 0"):
        parse_config({"name": "x", "scenario": "latency_sweep", "latency_sweep": {"engine": {"workers": -1}}})
    with pytest.raises(ConfigError, match=r"latency_sweep\.engine\.kind"):
        parse_config({"name": "x", "scenario": "latency_sweep", "latency_sweep": {"engine": {"kind": "slurm"}}})
