"""Agent side of the bridge: a REP loop that dispatches requests by ``op``.

Each handler takes (header, frames) and returns (meta, frames). The server measures the
handler's wall time and returns it as ``compute_s`` so the simulator can add it (or a
configured compute model) to simulated time. A handler exception becomes an error reply: the
agent keeps serving, and the simulator logs that unit as failed.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import zmq

from . import schema
from .client import check_local_endpoint

log = logging.getLogger(__name__)

Handler = Callable[[dict, list[bytes]], tuple[dict, list[bytes]]]


def serve(endpoint: str, handlers: dict[str, Handler], info: dict | None = None,
          idle_timeout_s: float | None = None) -> None:
    """Serve until a ``shutdown`` request arrives (or no request for idle_timeout_s, so an
    agent orphaned by a crashed simulator exits by itself)."""
    check_local_endpoint(endpoint)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    log.info("agent serving %s on %s", sorted(handlers), endpoint)
    idle_ms = None if idle_timeout_s is None else int(idle_timeout_s * 1000)
    try:
        while True:
            if not sock.poll(idle_ms, zmq.POLLIN):
                log.warning("no request for %.0f s: exiting", idle_timeout_s)
                return
            parts = sock.recv_multipart()
            answer, stop = _dispatch(parts, handlers, info or {})
            sock.send_multipart(schema.encode(answer))
            if stop:
                return
    finally:
        sock.close(linger=0)


def _dispatch(parts: list[bytes], handlers: dict[str, Handler], info: dict):
    try:
        msg = schema.decode(parts)
    except schema.BridgeProtocolError as exc:
        return schema.reply(False, error=f"bad request: {exc}"), False
    if msg.op == "ping":
        return schema.reply(True, ops=sorted(handlers), **info), False
    if msg.op == "shutdown":
        return schema.reply(True), True
    handler = handlers.get(msg.op)
    if handler is None:
        return schema.reply(False, error=f"unknown op {msg.op!r}; known: {sorted(handlers)}"), False
    start = time.perf_counter()
    try:
        meta, frames = handler(msg.header, msg.frames)
    except Exception as exc:  # noqa: BLE001 - any model failure becomes an error reply
        log.exception("op %s failed", msg.op)
        return schema.reply(False, error=f"{type(exc).__name__}: {exc}"), False
    return schema.reply(True, frames, compute_s=time.perf_counter() - start, **meta), False
