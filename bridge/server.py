"""Agent side of the bridge: a REP loop that dispatches requests by ``op``.

Each handler takes (header, frames) and returns (meta, frames). The server measures the
handler's wall time and returns it as ``compute_s`` so the simulator can add it (or a
configured compute model) to simulated time. A handler exception becomes an error reply: the
agent keeps serving, and the simulator logs that unit as failed.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

import zmq

from . import schema
from .client import check_local_endpoint

log = logging.getLogger(__name__)

Handler = Callable[[dict, list[bytes]], tuple[dict, list[bytes]]]


MAX_FRAME_BYTES = 64 * 1024 * 1024
PARENT_CHECK_S = 0.5
# The reply of last resort: what the server sends when even an error reply cannot be encoded.
_FALLBACK = [b'{"v":1,"ok":false,"error":"internal error: the reply could not be encoded","compute_s":0.0}']


def serve(endpoint: str, handlers: dict[str, Handler], info: dict | None = None,
          idle_timeout_s: float | None = None, ops: dict[str, schema.OpSchema] | None = None,
          parent_pid: int | None = None) -> None:
    """Serve until a ``shutdown`` request arrives, the process `parent_pid` (the simulator) is
    gone (checked every PARENT_CHECK_S), or no request came for idle_timeout_s. `ops` is the
    role's request table (schema.OPS[role]); every request is checked against it before a
    handler runs. No request can end the loop other than ``shutdown``: every failure is answered."""
    check_local_endpoint(endpoint)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    log.info("agent serving %s on %s", sorted(handlers), endpoint)
    last_request = time.monotonic()
    try:
        while True:
            if not sock.poll(int(PARENT_CHECK_S * 1000), zmq.POLLIN):
                if parent_pid is not None and not _alive(parent_pid):
                    log.warning("the simulator (pid %d) is gone: exiting", parent_pid)
                    return
                if idle_timeout_s is not None and time.monotonic() - last_request > idle_timeout_s:
                    log.warning("no request for %.0f s: exiting", idle_timeout_s)
                    return
                continue
            last_request = time.monotonic()
            parts = sock.recv_multipart()
            start = time.perf_counter()
            try:
                answer, stop = _dispatch(parts, handlers, info or {}, ops)
            except Exception as exc:  # noqa: BLE001 - a request never ends the loop
                log.exception("request failed outside its handler")
                answer, stop = schema.reply(False, error=f"internal error: {type(exc).__name__}"), False
            answer.header.setdefault("compute_s", time.perf_counter() - start)
            sock.send_multipart(_encode_reply(answer))
            if stop:
                return
    finally:
        sock.close(linger=0)


def _alive(pid: int) -> bool:
    """The parent is alive while we are still its child (an orphan is re-parented)."""
    return os.getppid() == pid


def _encode_reply(answer: schema.Message) -> list[bytes]:
    """The reply on the wire; an answer that cannot be encoded (too large a header, a value JSON
    cannot hold) becomes a bounded error reply instead."""
    try:
        return schema.encode(answer)
    except (schema.BridgeProtocolError, TypeError, ValueError) as exc:
        log.error("reply could not be encoded: %s", exc)
        try:
            return schema.encode(schema.reply(False, error=f"reply could not be encoded: {schema.clip(str(exc))}",
                                              compute_s=float(answer.header.get("compute_s", 0.0))))
        except Exception:  # noqa: BLE001
            return list(_FALLBACK)


def _dispatch(parts: list[bytes], handlers: dict[str, Handler], info: dict, ops: dict):
    try:
        msg = schema.decode(parts)
        if "op" not in msg.header:
            raise schema.BridgeProtocolError("a request needs 'op'")
        if ops is not None:
            schema.check_request(ops, msg, MAX_FRAME_BYTES)
        elif not isinstance(msg.op, str) or len(msg.op) > schema.MAX_OP_CHARS:  # no table: the op's name at least
            raise schema.BridgeProtocolError(f"'op' must be a short string, got {schema.quote(msg.op)}")
    except schema.BridgeProtocolError as exc:
        return schema.reply(False, error=f"bad request: {exc}"), False
    if msg.op == "ping":
        return schema.reply(True, ops=sorted(handlers), **info), False
    if msg.op == "shutdown":
        return schema.reply(True), True
    handler = handlers.get(msg.op)
    if handler is None:
        return schema.reply(False, error=f"unknown op {schema.quote(msg.op)}; known: {sorted(handlers)}"), False
    # One line per request: the tail of a dead agent's log (in the run's error) says what it was doing.
    log.info("%s%s", msg.op, f" unit {msg.header['unit']}" if "unit" in msg.header else "")
    start = time.perf_counter()
    try:
        meta, frames = handler(msg.header, msg.frames)
    except Exception as exc:  # noqa: BLE001 - any model failure becomes an error reply
        log.exception("op %s failed", msg.op)
        return schema.reply(False, error=f"{type(exc).__name__}: {schema.clip(str(exc))}",
                            compute_s=time.perf_counter() - start), False
    return schema.reply(True, frames, compute_s=time.perf_counter() - start, **meta), False
