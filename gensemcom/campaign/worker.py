"""A campaign worker: runs points one after another in one process, so that ns-3's bindings are
imported once (~10 s), not once per point. Between points each scenario resets the simulator
and every RNG stream (core.ns3.reset), so a point gives the same results first in a fresh
worker or after others (tested). A point that raises ends the worker after reporting: the
next point gets a fresh process, whatever state the failure left behind.

    python -m gensemcom.campaign.worker     (started by the local engine)

Protocol: one JSON task per line on stdin, one JSON result per line on the stdout it was
started with; everything else the run prints goes to stderr (the worker's log).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from gensemcom.campaign import provenance
from gensemcom.campaign.store import POINT_FILE, Store, log_tail, write_json_atomic

log = logging.getLogger("gensemcom.campaign")


def _run_config(task: dict, out: Path) -> None:
    """A campaign point: one ordinary run of the task's config into `out`."""
    from gensemcom.config import parse_config
    from gensemcom.core import registry

    summary = registry.run(parse_config(json.loads(task["config"])), out=out)
    summary_file = out / "summary.json"
    if summary_file.exists() and "results" in summary:  # where the results will be, not the temporary folder
        write_json_atomic(summary_file, {**json.loads(summary_file.read_text()),
                                         "results": str(Store(Path(task["folder"])).point_dir(task["id"]))})


def _run_call(task: dict, out: Path) -> None:
    """A sweep point (campaign.tasks): function(out, **args) writes its files into `out`."""
    module, _, name = task["call"].partition(":")
    fn = getattr(importlib.import_module(module), name, None) if name else None
    if not callable(fn):
        raise ValueError(f"task function {task['call']!r} is not 'package.module:function'")
    out.mkdir(parents=True, exist_ok=True)
    fn(out, **task["args"])


def execute(task: dict) -> dict:
    """Run one point into a temporary folder and commit it; returns {"id", "ok", ...}."""
    store = Store(Path(task["folder"]))
    tmp = store.tmp_dir(task["id"])
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started_unix = time.time()
    t0 = time.perf_counter()
    try:
        (_run_call if "call" in task else _run_config)(task, tmp)
    except BaseException as exc:  # noqa: BLE001 - any failure of a point is recorded, then re-raised if fatal
        failure = {"id": task["id"], "params": task["params"], "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=8), "log_tail": log_tail(tmp / "run.log"),
                   "started": started, "wall_s": time.perf_counter() - t0, **provenance.host()}
        store.record_failure(task["id"], failure)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return {"id": task["id"], "ok": False, "error": failure["error"]}
    wall = time.perf_counter() - t0
    write_json_atomic(tmp / POINT_FILE, {
        "id": task["id"], "params": task["params"], "provenance": {**task["provenance"], **provenance.host()},
        "started": started, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "started_unix": started_unix, "wall_s": wall, "worker_pid": os.getpid()})
    store.commit(tmp, task["id"])
    return {"id": task["id"], "ok": True, "wall_s": wall}


def _die_with_parent() -> None:
    """Exit when the driver dies (SIGKILL included): PR_SET_PDEATHSIG on Linux."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main() -> int:
    _die_with_parent()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints of the runs go to the log, not into the protocol
    sys.stdout = sys.stderr
    from gensemcom.core import run_folder

    run_folder.configure_logging()
    for line in sys.stdin:
        task = json.loads(line)
        log.info("point %s: %s", task["id"], task["params"])
        result = execute(task)
        protocol.write(json.dumps(result) + "\n")
        if not result["ok"]:
            return 3  # a fresh process for the next point
    return 0


if __name__ == "__main__":
    sys.exit(main())
