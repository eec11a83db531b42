"""Start and stop agent processes (separate Python processes: a model crash or hang cannot
take the simulator down with it)."""

from __future__ import annotations

import json
import logging
import os
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
        self.client = AgentClient(self.endpoint, timeout_s=timeout_s, retries=retries, name=name)
        self._ready_timeout_s = ready_timeout_s

    def wait_ready(self) -> dict:
        try:
            return self.client.wait_ready(self._ready_timeout_s)
        except AgentUnavailable:
            code = self.proc.poll()
            tail = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
            raise AgentUnavailable(
                f"agent {self.name} did not start (exit code {code}); log {self.log_path}:\n{tail}"
            ) from None

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
        for leftover in Path(self._sock_dir).glob("*"):
            leftover.unlink(missing_ok=True)
        os.rmdir(self._sock_dir)
