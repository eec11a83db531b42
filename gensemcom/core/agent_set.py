"""The agent processes of a run, as one context manager: started on entry (so that they load
their models while ns-3 loads), awaited with `wait_ready`, watched while the run lasts (a
supervisor thread reports an exit to `on_exit` callbacks within WATCH_S, whatever the simulation
is doing), and always stopped on exit, however the run ends."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

from gensemcom.bridge.launcher import AgentProcess

log = logging.getLogger("gensemcom")

# Test-only fault injection: names of agents to SIGKILL right after they are ready.
KILL_ENV = "GENSEMCOM_KILL_AGENTS"
# How often the supervisor looks at the processes: a run learns of an agent's exit within this.
WATCH_S = 0.1


class AgentSet:
    """Agents by name. `specs` maps each agent's name to (role, options); `settings` is the
    config's `agents` section (timeouts, retries)."""

    def __init__(self, specs: dict[str, tuple[str, dict]], out: Path, settings):
        self._specs, self._out, self._settings = specs, Path(out), settings
        self.processes: dict[str, AgentProcess] = {}
        self._lock = threading.Lock()
        self._exited: dict[str, str] = {}   # name -> why, once the supervisor has seen the exit
        self._listeners: dict[str, list[Callable[[str], None]]] = {}
        self._closing = threading.Event()
        self._supervisor: threading.Thread | None = None

    def __enter__(self) -> "AgentSet":
        s = self._settings
        try:
            for name, (role, options) in self._specs.items():
                self.processes[name] = AgentProcess(name, role, options, self._out, timeout_s=s.timeout_s,
                                                    retries=s.retries, ready_timeout_s=s.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._watch, name="agent-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __getitem__(self, name: str) -> AgentProcess:
        return self.processes[name]

    def wait_ready(self) -> None:
        """Block until every agent answers (raises AgentUnavailable with the agent's log tail
        if one does not start), then apply the fault injection of KILL_ENV."""
        for agent in self.processes.values():
            log.info("agent %s ready: %s", agent.name, agent.wait_ready())
        for name in filter(None, os.environ.get(KILL_ENV, "").split(",")):
            if name in self.processes:
                log.warning("fault injection: killing agent %s", name)
                self.processes[name].proc.kill()
                self.processes[name].proc.wait()

    def on_exit(self, name: str, callback: Callable[[str], None]) -> None:
        """callback("agent NAME exited (code C); last lines of its log: ...") once, from the
        supervisor thread, when agent `name` exits before the set is closed; at once, from this
        thread, if it has already exited."""
        with self._lock:
            reason = self._exited.get(name)
            if reason is None:
                self._listeners.setdefault(name, []).append(callback)
                return
        callback(reason)

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_S):
            for name, agent in list(self.processes.items()):
                reason = None if name in self._exited else agent.exit_reason()
                if reason is None:
                    continue
                with self._lock:
                    self._exited[name] = reason = f"agent {name} {reason}"
                    listeners = self._listeners.pop(name, [])
                log.error("%s", reason)
                for callback in listeners:
                    try:
                        callback(reason)
                    except Exception:  # noqa: BLE001 - the supervisor must outlive a faulty callback
                        log.exception("agent %s: exit callback failed", name)

    def stop(self) -> None:
        # The supervisor first: agents that exit because they are told to are not failures.
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join()
        for agent in self.processes.values():
            agent.stop()
        self.processes = {}


def semantic_unit_agents(cfg, streams: list[str] | None = None) -> dict[str, tuple[str, dict]]:
    """The encoder (source side) and generator (GenAI node) agents of a semantic-unit run:
    agents.workers processes of each role (worker_names), each pinned to its share of this
    process's cores when there are several (the roles work mostly one after the other: the
    encodings before the simulation, the generations during it), worker k of each role on
    agents.device's entry k."""
    devices = cfg.agents.devices()
    options = {"threads": cfg.agents.threads, "seed": cfg.seed, "streams": streams or cfg.app.streams,
               "models": cfg.models.model_dump(), "edge_format": cfg.app.edge_format,
               "max_batch": cfg.agents.max_batch, "batch_wait_ms": cfg.agents.batch_wait_ms}
    agents = {}
    for role in ("encoder", "generator"):
        names = worker_names(role, cfg)
        shares = core_shares(len(names)) if len(names) > 1 else [None]
        for name, cores, device in zip(names, shares, devices):
            worker = {**options, "device": device}
            agents[name] = (role, worker if cores is None else {**worker, "cores": cores})
    return agents


def worker_names(role: str, cfg) -> list[str]:
    """The agent names of a role's workers: role, role-2, ..., one per agents.workers."""
    return [role] + [f"{role}-{k}" for k in range(2, getattr(cfg.agents, "workers", 1) + 1)]


def core_shares(n: int) -> list[list[int]]:
    """This process's cores split into n shares (round-robin; each share at least one core)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if len(cores) < n:
        return [[cores[k % len(cores)]] for k in range(n)]
    return [cores[k::n] for k in range(n)]
