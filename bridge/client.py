"""Request/reply client with the Lazy Pirate pattern: a reply that does not come within the
timeout closes the socket, opens a fresh one and retries; after the last retry the agent is
declared unavailable and the caller logs the unit as failed instead of hanging the run."""

from __future__ import annotations

import logging
import time
from typing import Callable

import zmq

from . import schema

log = logging.getLogger(__name__)


class AgentUnavailable(RuntimeError):
    """The agent did not answer within timeout x (retries + 1)."""


class AgentError(RuntimeError):
    """The agent answered, but reported a failure for this request."""


# How often a caller waiting for a reply checks that the agent's process is still there.
WATCH_SLICE_MS = 100


class AgentClient:
    """`exit_reason`, when given, says why the agent's process is gone (or None while it runs):
    a call then fails within WATCH_SLICE_MS of the exit instead of after the timeouts."""

    def __init__(self, endpoint: str, timeout_s: float = 30.0, retries: int = 1, name: str = "",
                 exit_reason: Callable[[], str | None] | None = None):
        check_local_endpoint(endpoint)
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_s * 1000)
        self.retries = retries
        self.name = name or endpoint
        self.dead = False
        self.exit_reason = exit_reason
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket | None = None

    def _connect(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    def call(self, msg: schema.Message) -> schema.Message:
        """Send one request and return the reply; raise AgentUnavailable or AgentError."""
        reason = self.exit_reason() if self.exit_reason else None
        if self.dead or reason is not None:
            # Every later call says why, not only the first: each unit's error names the exit.
            self.dead = True
            raise AgentUnavailable(f"agent {self.name} {reason or 'was declared dead earlier'}")
        parts = schema.encode(msg)
        for attempt in range(self.retries + 1):
            if self._sock is None:
                self._sock = self._connect()
            self._sock.send_multipart(parts)
            if self._wait_reply():
                answer = schema.decode(self._sock.recv_multipart())
                if not answer.ok:
                    raise AgentError(f"agent {self.name}: {answer.header.get('error', 'failed')}")
                return answer
            # REQ sockets cannot send twice without a reply: drop this one (Lazy Pirate).
            log.warning("agent %s: no reply to %r within %.1f s (attempt %d/%d)", self.name,
                        msg.op, self.timeout_ms / 1000, attempt + 1, self.retries + 1)
            self._sock.close(linger=0)
            self._sock = None
        self.dead = True
        raise AgentUnavailable(
            f"agent {self.name} at {self.endpoint} did not answer {msg.op!r} "
            f"after {self.retries + 1} attempts of {self.timeout_ms / 1000:.1f} s"
        )

    def _wait_reply(self) -> bool:
        """Wait for the reply in slices, checking between them that the process still runs."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return False
            if self._sock.poll(min(WATCH_SLICE_MS, remaining_ms) if self.exit_reason else remaining_ms, zmq.POLLIN):
                return True
            reason = self.exit_reason() if self.exit_reason else None
            if reason is not None:
                self.dead = True
                self.close()
                raise AgentUnavailable(f"agent {self.name} {reason}")

    def wait_ready(self, timeout_s: float = 120.0, poll_s: float = 0.5) -> dict:
        """Ping until the agent answers (it may still be loading models)."""
        deadline = time.monotonic() + timeout_s
        probe = AgentClient(self.endpoint, timeout_s=poll_s, retries=0, name=self.name, exit_reason=self.exit_reason)
        try:
            while True:
                try:
                    return probe.call(schema.request("ping")).header
                except AgentUnavailable:
                    if self.exit_reason is not None and self.exit_reason() is not None:
                        raise   # the process is gone: no point in waiting
                    if time.monotonic() > deadline:
                        raise AgentUnavailable(
                            f"agent {self.name} not ready after {timeout_s:.0f} s"
                        ) from None
                    probe.dead = False
        finally:
            probe.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None


def check_local_endpoint(endpoint: str) -> None:
    """Agents are reachable only from this machine: ipc:// or loopback TCP."""
    if endpoint.startswith("ipc://"):
        return
    if endpoint.startswith(("tcp://127.0.0.1:", "tcp://localhost:")):
        return
    raise ValueError(f"endpoint {endpoint!r} must be ipc:// or tcp://127.0.0.1:<port>")
