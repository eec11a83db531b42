"""A sweep's independent points, run by the campaign engines: in parallel and resumable.

A sweep (latency_sweep's packet-level points and Phi(BER) jobs, meg_sweep's runs, gnl_sweep's
codec measurements) lists its points as Tasks: a function, named "package.module:function",
that a worker calls as function(out, **args) and that writes the point's results as files
into the folder `out`. `run_tasks` runs the tasks not yet done in the sweep's store
(<output_dir>/sweeps/<name>/, laid out as a campaign's folder: store.py) on the sweep's
`engine` and returns each task's folder, in the tasks' order, for the sweep to read back.

A task's id hashes its function, its args and the code (commit, and the uncommitted changes
of a dirty checkout): a rerun after an interruption or a failure runs only what is missing,
and a result made by other code is never reused.

    folders = run_tasks([Task("gensemcom.scenarios.x:point", {"snr_db": s}) for s in snrs],
                        sweep_folder(cfg, "x"), cfg.x.engine, "x points")
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from gensemcom.campaign import provenance
from gensemcom.campaign.engines import IN_WORKER_ENV, build_engine, worker_count
from gensemcom.campaign.spec import config_id
from gensemcom.campaign.store import Store
from gensemcom.config.engine import EngineConfig
from gensemcom.core.paths import REPO_ROOT

log = logging.getLogger("gensemcom.campaign")


@dataclass(frozen=True)
class Task:
    call: str                                   # "package.module:function"
    args: dict = field(default_factory=dict)    # JSON values: the task crosses a pipe or a Ray cluster
    label: str = ""                             # what the logs call it

    def id(self, code: str) -> str:
        key = json.dumps({"call": self.call, "args": self.args, "code": code}, sort_keys=True, allow_nan=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def sweep_folder(cfg, sweep: str) -> Path:
    """Where a sweep keeps its points: <output_dir>/sweeps/<name>-<sweep>-<config hash>/,
    outside the run's own timestamped folder, so that the next run of the same config finds
    them, and apart from the runs of other configs (a campaign's points run at once)."""
    return (REPO_ROOT / cfg.output_dir).resolve() / "sweeps" / f"{cfg.name}-{sweep}-{config_id(cfg)[:8]}"


def run_tasks(tasks: list[Task], folder: Path, engine: EngineConfig, desc: str) -> list[Path]:
    """Run every task not yet done in `folder`; returns the tasks' point folders in order.
    Failed tasks are recorded (failed/<id>.json with the log tail) and raise a RuntimeError
    naming how many failed, once the others have finished."""
    store = Store(folder)
    with store.lock():
        store.clear_in_flight()
        snapshot = provenance.snapshot()
        code = provenance.code_key(snapshot)
        ids = [t.id(code) for t in tasks]
        todo = {}
        for task, tid in zip(tasks, ids):
            if not store.is_done(tid) and tid not in todo:
                todo[tid] = {"id": tid, "params": {"label": task.label, **task.args} if task.label else task.args,
                             "call": task.call, "args": task.args, "folder": str(store.folder), "provenance": snapshot}
        if todo:
            failed = _run(store, list(todo.values()), engine, desc)
            if failed:
                first = next(iter(failed.values())).splitlines()[0]
                raise RuntimeError(f"{len(failed)} of {len(tasks)} {desc} failed (the others are kept for a rerun; "
                                   f"errors in {store.failed}/): {first}")
        else:
            log.info("%s: all %d done already in %s", desc, len(tasks), store.folder)
    return [store.point_dir(tid) for tid in ids]


def _run(store: Store, tasks: list[dict], engine: EngineConfig, desc: str) -> dict[str, str]:
    # In this process: one local worker (no second ns-3 import), or a sweep that is itself a
    # point in a campaign's worker (the campaign is what runs in parallel).
    workers = worker_count(engine.workers, len(tasks))
    inline = os.environ.get(IN_WORKER_ENV) == "1" or (engine.kind == "local" and workers == 1)
    where = "this process" if inline else f"{workers} {engine.kind} worker(s)"
    log.info("%s: %d to run in %s -> %s", desc, len(tasks), where, store.folder)
    failed: dict[str, str] = {}
    bar = tqdm(total=len(tasks), unit="point", desc=desc, mininterval=2)

    def on_result(result: dict) -> None:
        if not result["ok"]:
            failed[result["id"]] = result["error"]
            record_failure(store, result, next(t["params"] for t in tasks if t["id"] == result["id"]))
        bar.update(1)

    t0 = time.perf_counter()
    try:
        if inline:
            from gensemcom.campaign.worker import execute

            for task in tasks:
                on_result(execute(task))
        else:
            build_engine(engine, store.logs).run(tasks, on_result)
    finally:
        bar.close()
    log.info("%s: %d points in %.1f s", desc, len(tasks), time.perf_counter() - t0)
    return failed


def record_failure(store: Store, result: dict, params: dict) -> None:
    """A failed point's record, unless its worker wrote one (a worker that died writes none)."""
    if not (store.failed / f"{result['id']}.json").exists():
        store.record_failure(result["id"], {"id": result["id"], "params": params, "error": result["error"],
                                            **provenance.host()})
    log.warning("point %s failed: %s", result["id"], result["error"].splitlines()[0])
