"""The agent processes of a run, as one context manager: started on entry (so that they load
their models while ns-3 loads), awaited with `wait_ready`, and always stopped on exit, however
the run ends."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gensemcom.bridge.launcher import AgentProcess

log = logging.getLogger("gensemcom")

# Test-only fault injection: names of agents to SIGKILL right after they are ready.
KILL_ENV = "GENSEMCOM_KILL_AGENTS"


class AgentSet:
    """Agents by name. `specs` maps each agent's name to (role, options); `settings` is the
    config's `agents` section (timeouts, retries)."""

    def __init__(self, specs: dict[str, tuple[str, dict]], out: Path, settings):
        self._specs, self._out, self._settings = specs, Path(out), settings
        self.processes: dict[str, AgentProcess] = {}

    def __enter__(self) -> "AgentSet":
        s = self._settings
        try:
            for name, (role, options) in self._specs.items():
                self.processes[name] = AgentProcess(name, role, options, self._out, timeout_s=s.timeout_s,
                                                    retries=s.retries, ready_timeout_s=s.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
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

    def stop(self) -> None:
        for agent in self.processes.values():
            agent.stop()
        self.processes = {}


def semantic_unit_agents(cfg, streams: list[str] | None = None) -> dict[str, tuple[str, dict]]:
    """The encoder (source side) and generator (GenAI node) agents of a semantic-unit run."""
    options = {"threads": cfg.agents.threads, "seed": cfg.seed, "streams": streams or cfg.app.streams,
               "models": cfg.models.model_dump(), "edge_format": cfg.app.edge_format}
    return {role: (role, options) for role in ("encoder", "generator")}
