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
from collections import deque
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


BatchHandler = Callable[[list[tuple[dict, list[bytes]]]], list]


def serve(endpoint: str, handlers: dict[str, Handler], info: dict | None = None,
          idle_timeout_s: float | None = None, ops: dict[str, schema.OpSchema] | None = None,
          parent_pid: int | None = None, batch_handlers: dict[str, BatchHandler] | None = None,
          max_batch: int = 1, batch_wait_ms: float = 0.0) -> None:
    """Serve until a ``shutdown`` request arrives, the process `parent_pid` (the simulator) is
    gone (checked every PARENT_CHECK_S), or no request came for idle_timeout_s. `ops` is the
    role's request table (schema.OPS[role]); every request is checked against it before a
    handler runs. No request can end the loop other than ``shutdown``: every failure is answered.

    The socket is a ROUTER: clients may pipeline requests (a DEALER with an `id` per request, see
    client.py) or send one at a time (REQ). Requests are served in arrival order. With
    max_batch > 1, consecutive queued requests of an op in `batch_handlers` (waiting up to
    batch_wait_ms after the first for more to arrive) go to its batch handler together: it
    takes [(header, frames)] and returns one (meta, frames) or Exception per request; each
    request still gets its own reply, with `batch` (the batch's size) and compute_s (the
    batch's wall time over its size)."""
    check_local_endpoint(endpoint)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    log.info("agent serving %s on %s%s", sorted(handlers), endpoint,
             f" (batches of up to {max_batch}, waiting {batch_wait_ms:g} ms)" if max_batch > 1 else "")
    batch_handlers = (batch_handlers or {}) if max_batch > 1 else {}
    info = info or {}
    queue: deque = deque()   # (envelope, parts, arrival)
    last_request = time.monotonic()
    try:
        while True:
            if not queue and not sock.poll(int(PARENT_CHECK_S * 1000), zmq.POLLIN):
                if parent_pid is not None and not _alive(parent_pid):
                    log.warning("the simulator (pid %d) is gone: exiting", parent_pid)
                    return
                if idle_timeout_s is not None and time.monotonic() - last_request > idle_timeout_s:
                    log.warning("no request for %.0f s: exiting", idle_timeout_s)
                    return
                continue
            _drain(sock, queue)
            last_request = time.monotonic()
            envelope, parts, arrived = queue.popleft()
            msg, answer = _parse(parts, handlers, ops)
            if answer is None and msg.op in batch_handlers:
                batch = [(envelope, msg)]
                deadline = arrived + batch_wait_ms / 1000
                while len(batch) < max_batch:
                    if not queue:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or not sock.poll(max(1, int(remaining * 1000)), zmq.POLLIN):
                            break
                        _drain(sock, queue)
                        continue
                    more, error = _parse(queue[0][1], handlers, ops)
                    if error is not None or more.op != msg.op:
                        break
                    batch.append((queue.popleft()[0], more))
                for env, reply in _run_batch(batch_handlers[msg.op], batch):
                    sock.send_multipart(env + _encode_reply(reply))
                continue
            start = time.perf_counter()
            stop = False
            if answer is None:
                try:
                    answer, stop = _dispatch(msg, handlers, info)
                except Exception as exc:  # noqa: BLE001 - a request never ends the loop
                    log.exception("request failed outside its handler")
                    answer = schema.reply(False, error=f"internal error: {type(exc).__name__}")
            answer.header.setdefault("compute_s", time.perf_counter() - start)
            _echo_id(answer, msg)
            sock.send_multipart(envelope + _encode_reply(answer))
            if stop:
                return
    finally:
        sock.close(linger=0)


def _drain(sock: zmq.Socket, queue: deque) -> None:
    """Every message the socket holds now, split into (routing envelope, message parts)."""
    while sock.poll(0, zmq.POLLIN):
        frames = sock.recv_multipart()
        # ROUTER: [identity, b"" (REQ, and our DEALER client), header, frames...]
        split = 2 if len(frames) > 1 and frames[1] == b"" else 1
        queue.append((frames[:split], frames[split:], time.monotonic()))


def _echo_id(answer: schema.Message, msg: schema.Message | None) -> None:
    if msg is not None and "id" in msg.header:
        answer.header["id"] = msg.header["id"]


def _run_batch(handler: BatchHandler, batch: list) -> list:
    """[(envelope, reply)] for a batch of requests of one op."""
    for _, msg in batch:
        log.info("%s%s (batch of %d)", msg.op, f" unit {msg.header['unit']}" if "unit" in msg.header else "",
                 len(batch))
    start = time.perf_counter()
    try:
        results = handler([(msg.header, msg.frames) for _, msg in batch])
        if len(results) != len(batch):
            raise RuntimeError(f"batch handler returned {len(results)} results for {len(batch)} requests")
    except Exception as exc:  # noqa: BLE001 - the whole batch failed: every request is told
        log.exception("batch of %d %s failed", len(batch), batch[0][1].op)
        results = [exc] * len(batch)
    share = (time.perf_counter() - start) / len(batch)
    out = []
    for (envelope, msg), result in zip(batch, results):
        if isinstance(result, Exception):
            reply = schema.reply(False, error=f"{type(result).__name__}: {schema.clip(str(result))}",
                                 compute_s=share, batch=len(batch))
        else:
            meta, frames = result
            reply = schema.reply(True, frames, compute_s=share, batch=len(batch), **meta)
        _echo_id(reply, msg)
        out.append((envelope, reply))
    return out


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


def _parse(parts: list[bytes], handlers: dict[str, Handler], ops: dict | None):
    """(request, None) for a well-formed request, else (the request or None, its error reply)."""
    msg = None
    try:
        msg = schema.decode(parts)
        if "op" not in msg.header:
            raise schema.BridgeProtocolError("a request needs 'op'")
        if ops is not None:
            schema.check_request(ops, msg, MAX_FRAME_BYTES)
        elif not isinstance(msg.op, str) or len(msg.op) > schema.MAX_OP_CHARS:  # no table: the op's name at least
            raise schema.BridgeProtocolError(f"'op' must be a string, got {schema.quote(msg.op)}")
        schema.check_id(msg.header)
    except schema.BridgeProtocolError as exc:
        if msg is not None and schema.check_id(msg.header, strict=False) is not None:
            msg = None   # an id that is not one: not echoed
        return msg, schema.reply(False, error=f"bad request: {exc}")
    except Exception as exc:  # noqa: BLE001 - a request never ends the loop
        log.exception("request failed outside its handler")
        return None, schema.reply(False, error=f"internal error: {type(exc).__name__}")
    return msg, None


def _dispatch(msg: schema.Message, handlers: dict[str, Handler], info: dict):
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
