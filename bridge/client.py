"""Request/reply client with the Lazy Pirate pattern: a reply that does not come within the
timeout closes the socket, opens a fresh one and resends what is outstanding; after the last
retry the agent is declared unavailable and the caller logs the unit as failed instead of
hanging the run.

Requests can be pipelined: `submit` sends one and returns its id at once, `join(id)` waits for
that reply (replies to other ids that arrive meanwhile are kept for their own join). `call` is
submit + join. The socket is a DEALER, so any number of requests may be in flight; each carries
an `id` the agent echoes in its reply. The timeout counts the time without any reply while a
caller waits: a request queued behind others at a busy agent is not a dead agent.
"""

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
    a call then fails within WATCH_SLICE_MS of the exit instead of after the timeouts.

    Not thread-safe (one ZeroMQ socket): use it from one thread."""

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
        self._next_id = 1
        self._outstanding: dict[int, tuple[str, list[bytes]]] = {}   # id -> (op, wire parts), in send order
        self._replies: dict[int, schema.Message] = {}               # arrived, not joined yet
        self._dead_reason = ""

    def _connect(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    @property
    def outstanding(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._outstanding)

    def _check_alive(self) -> None:
        reason = self.exit_reason() if self.exit_reason else None
        if self.dead or reason is not None:
            # Every later call says why, not only the first: each unit's error names the exit.
            self._declare_dead(f"agent {self.name} {reason or 'was declared dead earlier'}")
            raise AgentUnavailable(f"agent {self.name} {reason or 'was declared dead earlier'}")

    def _declare_dead(self, why: str) -> None:
        self._dead_reason = why
        self.dead = True
        self._outstanding.clear()
        self.close()

    def submit(self, msg: schema.Message) -> int:
        """Send one request without waiting; returns its id for `join`. Raises AgentUnavailable
        if the agent is known to be gone."""
        self._check_alive()
        rid = self._next_id
        self._next_id += 1
        parts = schema.encode(schema.Message({**msg.header, "id": rid}, msg.frames))
        if self._sock is None:
            self._sock = self._connect()
        self._sock.send_multipart([b"", *parts])
        self._outstanding[rid] = (msg.op, parts)
        return rid

    def join(self, rid: int) -> schema.Message:
        """The reply to request `rid`; raise AgentUnavailable or AgentError."""
        answer = self._replies.pop(rid, None)
        if answer is None:
            if rid not in self._outstanding:
                self._check_alive()
                raise KeyError(f"agent {self.name}: no request {rid} outstanding")
            answer = self._wait_for(rid)
        if not answer.ok:
            raise AgentError(f"agent {self.name}: {answer.header.get('error', 'failed')}")
        return answer

    def ready(self, rid: int) -> bool:
        """Whether the reply to `rid` has arrived (reads what the socket holds, never waits)."""
        if rid in self._replies:
            return True
        while self._sock is not None and not self.dead and self._sock.poll(0, zmq.POLLIN):
            self._receive_one()
        return rid in self._replies

    def call(self, msg: schema.Message) -> schema.Message:
        """Send one request and return the reply; raise AgentUnavailable or AgentError."""
        return self.join(self.submit(msg))

    def _receive_one(self) -> None:
        parts = self._sock.recv_multipart()
        if parts and parts[0] == b"":
            parts = parts[1:]
        try:
            answer = schema.decode(parts)
        except schema.BridgeProtocolError as exc:
            log.error("agent %s: undecodable reply dropped: %s", self.name, exc)
            return
        rid = answer.header.get("id")
        if not isinstance(rid, int) or rid not in self._outstanding:
            if rid is None and self._outstanding:   # an agent that cannot read the id answers in order
                rid = next(iter(self._outstanding))
            else:
                return   # a reply to a request resent since, or already given up: stale
        del self._outstanding[rid]
        self._replies[rid] = answer

    def _wait_for(self, rid: int) -> schema.Message:
        op = self._outstanding[rid][0]
        for attempt in range(self.retries + 1):
            if self._sock is None:   # closed by a timeout: a fresh socket, everything outstanding again
                self._sock = self._connect()
                for _, parts in self._outstanding.values():
                    self._sock.send_multipart([b"", *parts])
            if self._wait_reply(rid):
                return self._replies.pop(rid)
            # No reply at all within the timeout: drop this socket (Lazy Pirate).
            log.warning("agent %s: no reply to %r within %.1f s (attempt %d/%d)", self.name,
                        op, self.timeout_ms / 1000, attempt + 1, self.retries + 1)
            self.close()
        self._declare_dead(f"agent {self.name} at {self.endpoint} did not answer {op!r} "
                           f"after {self.retries + 1} attempts of {self.timeout_ms / 1000:.1f} s")
        raise AgentUnavailable(self._dead_reason)

    def _wait_reply(self, rid: int) -> bool:
        """Wait for reply `rid` in slices, checking between them that the process still runs;
        any reply restarts the timeout (the agent is working through its queue)."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while rid not in self._replies:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return False
            if self._sock.poll(min(WATCH_SLICE_MS, remaining_ms) if self.exit_reason else remaining_ms, zmq.POLLIN):
                while self._sock.poll(0, zmq.POLLIN):
                    self._receive_one()
                deadline = time.monotonic() + self.timeout_ms / 1000
                continue
            reason = self.exit_reason() if self.exit_reason else None
            if reason is not None:
                self._declare_dead(f"agent {self.name} {reason}")
                raise AgentUnavailable(f"agent {self.name} {reason}")
        return True

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
