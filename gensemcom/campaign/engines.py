"""Where a campaign's points run. Both engines hand each point to a long-lived worker (one ns-3
import per worker, gensemcom.campaign.worker) and report each result as it comes:

    engine.run(tasks, on_result)      on_result({"id", "ok", "error"?, "wall_s"?}) per task

- LocalEngine: worker processes on this machine (stdin/stdout JSON lines); a worker that dies
  (a native crash) fails its point with the exit code and its log's tail, and is replaced.
- RayEngine: the same worker code in Ray actors, one per concurrent point, each asking for
  the campaign's CPUs / GPUs per point; the campaign folder must be on a file system every
  node sees.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Callable

from gensemcom.campaign.store import log_tail
from gensemcom.config.engine import EngineConfig
from gensemcom.core.paths import REPO_ROOT

log = logging.getLogger("gensemcom.campaign")
OnResult = Callable[[dict], None]


def build_engine(e: EngineConfig, logs: Path):
    """The engine an `engine` section asks for; local workers log into `logs`."""
    if e.kind == "ray":
        return RayEngine(e.workers, e.address, e.cpus_per_point, e.gpus_per_point)
    return LocalEngine(e.workers, logs)


def worker_count(requested: int, tasks: int) -> int:
    return max(1, min(requested or os.cpu_count() or 1, tasks))


# Thread pools of numerical libraries: each worker gets its share of the cores (as Ray does
# for its actors), else N workers each start a pool as wide as the machine and spin against
# each other (measured: 2 workers on 2 cores no faster than 1).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# Set in every worker: a sweep run as a campaign point then runs its own points in the worker
# itself (campaign.tasks), instead of starting workers of its own.
IN_WORKER_ENV = "GENSEMCOM_CAMPAIGN_WORKER"


def worker_env(threads: int) -> dict:
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONUNBUFFERED="1", **{IN_WORKER_ENV: "1"})
    for name in THREAD_ENV:
        env.setdefault(name, str(threads))
    return env


class _Worker:
    def __init__(self, index: int, logs: Path, threads: int):
        self.log_path = logs / f"worker-{index}.log"
        env = worker_env(threads)
        with open(self.log_path, "a") as log_file:
            self.proc = subprocess.Popen([sys.executable, "-m", "gensemcom.campaign.worker"], cwd=REPO_ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                                         text=True, bufsize=1, env=env)
        self.task: dict | None = None

    def send(self, task: dict) -> None:
        self.task = task
        self.proc.stdin.write(json.dumps(task) + "\n")
        self.proc.stdin.flush()

    def parse(self, line: str) -> dict:
        try:
            result = json.loads(line)
            if isinstance(result, dict) and result.get("id") == self.task["id"] and "ok" in result:
                return result
        except ValueError:
            pass
        self.proc.kill()  # out of step with the protocol: replaced like a worker that died
        return {"id": self.task["id"], "ok": False, "error": f"worker sent {line[:200]!r} instead of a result"}

    def died(self) -> dict:
        code = self.proc.wait()
        return {"id": self.task["id"], "ok": False,
                "error": f"worker exited with code {code} during the point; log tail:\n{log_tail(self.log_path)}"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class LocalEngine:
    def __init__(self, workers: int, logs: Path):
        self.workers, self.logs = workers, logs

    def run(self, tasks: list[dict], on_result: OnResult) -> None:
        queue = deque(tasks)
        selector = selectors.DefaultSelector()
        started = 0

        workers = worker_count(self.workers, len(tasks))
        threads = max(1, (os.cpu_count() or 1) // workers)

        def start() -> None:
            nonlocal started
            w = _Worker(started, self.logs, threads)
            started += 1
            selector.register(w.proc.stdout, selectors.EVENT_READ, w)
            w.send(queue.popleft())

        for _ in range(workers):
            start()
        try:
            while selector.get_map():
                for key, _ in selector.select():
                    w: _Worker = key.data
                    line = w.proc.stdout.readline()
                    result = w.parse(line) if line else w.died()
                    on_result(result)
                    if line and result["ok"] and queue:
                        w.send(queue.popleft())
                        continue
                    selector.unregister(w.proc.stdout)
                    w.stop()
                    if queue:  # the worker ended after a failure, or has nothing left to do
                        start()
        finally:
            for key in list(selector.get_map().values()):
                key.data.proc.kill()
                key.data.proc.wait()


class RayEngine:
    def __init__(self, workers: int, address: str | None, cpus: float, gpus: float):
        self.workers, self.address, self.cpus, self.gpus = workers, address, cpus, gpus

    def run(self, tasks: list[dict], on_result: OnResult) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("engine.kind ray needs the ray package (pip install ray==2.60.0)") from None
        started_here = not ray.is_initialized()
        if started_here:
            address = self.address or os.environ.get("RAY_ADDRESS")
            # A local cluster when no address is given; the runtime env makes the workers import
            # this checkout and keeps their prints out of the driver's console.
            ray.init(address=address, log_to_driver=False, include_dashboard=False, logging_level=logging.ERROR,
                     num_cpus=None if address else os.cpu_count(),
                     runtime_env={"env_vars": {"TQDM_DISABLE": "1", "PYTHONPATH": str(REPO_ROOT),
                                                  IN_WORKER_ENV: "1"}})
            log.info("Ray: %s, %s CPUs, %s GPUs", address or "a local cluster", ray.cluster_resources().get("CPU"),
                     ray.cluster_resources().get("GPU", 0))
        try:
            self._run(ray, tasks, on_result)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray, tasks: list[dict], on_result: OnResult) -> None:
        @ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0)
        class PointWorker:
            def execute(self, task: dict) -> dict:
                from gensemcom.campaign.worker import execute
                from gensemcom.core import run_folder

                run_folder.configure_logging()
                return execute(task)

        queue = deque(tasks)
        pending: dict = {}
        for _ in range(worker_count(self.workers, len(tasks))):
            actor = PointWorker.remote()
            task = queue.popleft()
            pending[actor.execute.remote(task)] = (actor, task)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            actor, task = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as exc:  # the actor died (a native crash): a new one
                result = {"id": task["id"], "ok": False, "error": f"Ray worker died: {type(exc).__name__}: {exc}"}
            on_result(result)
            if not result["ok"]:
                ray.kill(actor)
                actor = PointWorker.remote() if queue else None
            if queue and actor is not None:
                task = queue.popleft()
                pending[actor.execute.remote(task)] = (actor, task)
