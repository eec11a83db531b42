"""Start and stop agent processes (separate Python processes: a model crash or hang cannot
take the simulator down with it)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import schema
from .client import AgentClient, AgentUnavailable

log = logging.getLogger(__name__)


class AgentProcess:
    """One agent: ``python -m gensemcom.agents.agent --role ROLE --endpoint ipc://...``."""

    def __init__(self, name: str, role: str, options: dict, log_dir: Path,
                 timeout_s: float = 60.0, retries: int = 1, ready_timeout_s: float = 180.0):
        self.name = name
        # Short ipc path: Unix socket paths are limited to ~107 bytes.
        self._sock_dir = tempfile.mkdtemp(prefix="gsc-")
        self.endpoint = f"ipc://{self._sock_dir}/{name}.ipc"
        self.log_path = Path(log_dir) / f"agent-{name}.log"
        cmd = [sys.executable, "-m", "gensemcom.agents.agent", "--role", role,
               "--endpoint", self.endpoint, "--options", json.dumps(options)]
        self._log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.client = AgentClient(self.endpoint, timeout_s=timeout_s, retries=retries, name=name,
                                  exit_reason=self.exit_reason)
        self._ready_timeout_s = ready_timeout_s

    def exit_reason(self) -> str | None:
        """None while the process runs; else its exit code and the last lines of its log."""
        code = self.proc.poll()
        if code is None:
            return None
        return f"exited (code {code}); last lines of {self.log_path}:\n{self.log_tail()}"

    def log_tail(self, lines: int = 8) -> str:
        try:
            self._log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self) -> dict:
        try:
            return self.client.wait_ready(self._ready_timeout_s)
        except AgentUnavailable as exc:
            reason = self.exit_reason() or f"did not answer within {self._ready_timeout_s:.0f} s"
            raise AgentUnavailable(f"agent {self.name} did not start: {reason}") from exc

    def stop(self) -> None:
        if self.proc.poll() is None and not self.client.dead:
            try:
                quick = AgentClient(self.endpoint, timeout_s=2.0, retries=0, name=self.name)
                quick.call(schema.request("shutdown"))
                quick.close()
            except Exception:  # noqa: BLE001 - falls through to terminate
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.client.close()
        self._log.close()
        shutil.rmtree(self._sock_dir, ignore_errors=True)   # the agent may have removed it already
