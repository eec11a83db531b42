"""Mobile edge generation sessions, independent of the transport.

The engine issues the requests of each protocol (one protocol after the other), runs every
stage's ops on the node's agent, charges the compute model, and hands messages to a transport:
ns-3 LTE in a run (simulation.py), or LocalTransport (an in-process event loop with a fixed
link rate) for the noiseless reference and for tests. Simulated time stands still while an agent
computes; the compute time is then charged to the node's FIFO clock, and the node's message
leaves (or its request finishes) when the clock says so.

Messages: stream 0 is the payload (agents.meg_split.wire formats), stream 1 (uplink only) the
task, UTF-8 JSON {"prompt", "seed"[, "rows"]}: the text command, the noise seed the ES draws
from, and for a strip the latent rows it covers. Both are real bytes on the air.
"""
from __future__ import annotations

import heapq
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gensemcom.agents.meg_split import protocols as meg_protocols, wire
from gensemcom.bridge.client import AgentError, AgentUnavailable
from gensemcom.core.compute_clock import ComputeClock

log = logging.getLogger("gensemcom.meg")

PAYLOAD, TASK = 0, 1   # stream ids


@dataclass
class Msg:
    mid: int
    rid: int
    protocol: str
    src: str
    dst: str
    kind: str                    # payload kind (meg_protocols.Protocol.uplink / downlink)
    part: int                    # ES index k (the strip index in the cooperative protocols)
    payload: bytes
    task: bytes = b""
    t_sent: float = math.nan
    t_rx: float = math.nan
    rx_payload: bytes | None = None   # as delivered (the transport fills these)
    rx_task: bytes | None = None
    complete: bool | None = None
    crc_ok: bool | None = None

    @property
    def direction(self) -> str:
        return "uplink" if self.src.startswith("ue") else "downlink"

    def row(self) -> dict:
        return {"mid": self.mid, "rid": self.rid, "protocol": self.protocol, "src": self.src, "dst": self.dst,
                "direction": self.direction, "kind": self.kind, "part": self.part,
                "payload_bytes": len(self.payload), "task_bytes": len(self.task),
                "bytes": len(self.payload) + len(self.task), "t_sent": self.t_sent, "t_rx": self.t_rx,
                "complete": self.complete, "crc_ok": self.crc_ok}


@dataclass
class Request:
    rid: int
    protocol: meg_protocols.Protocol
    ue: str
    ue_index: int
    image: str
    image_index: int
    original: np.ndarray
    t_request: float
    es: list[str]
    status: str = "pending"
    error: str = ""
    t_done: float = math.nan
    result: np.ndarray | None = None
    picked: int | None = None
    spans: list | None = None
    rows: int | None = None
    candidates: dict = field(default_factory=dict)   # ES index -> UE-side value (bytes) of its reply
    compute_s: dict = field(default_factory=dict)    # node -> simulated compute charged
    combined: bool = False

    @property
    def key(self) -> tuple:
        return (self.protocol.name, self.ue_index, self.image_index)


class MegEngine:
    def __init__(self, meg_cfg, *, seed: int, size: int, ues: list[str], ess: list[str],
                 images: list[tuple[str, np.ndarray]], start_s: float, interval_s: float, transport,
                 snr_db: float | None | str = "config", force_pick: dict | None = None):
        self.m, self.seed, self.size = meg_cfg, int(seed), int(size)
        self.ues, self.ess, self.images = ues, ess, images
        self.start_s, self.interval_s = start_s, interval_s
        self.t = transport
        self.snr_db = meg_cfg.snr_db if snr_db == "config" else snr_db
        self.force_pick = force_pick or {}     # request key -> ES index ('first' rule, reference runs)
        self.requests: list[Request] = []
        self.messages: dict[int, Msg] = {}
        self.clocks = {n: ComputeClock("measured", 0.0, 1.0) for n in ues + ess}
        self._phase = -1
        self._pending: set[int] = set()
        self.done = False

    # -- phases ---------------------------------------------------------------------------
    def start(self) -> None:
        self.t.schedule(self.start_s, self._next_phase)

    def _next_phase(self) -> None:
        self._phase += 1
        if self._phase >= len(self.m.protocols):
            self.done = True
            self.t.stop()
            return
        protocol = meg_protocols.PROTOCOLS[self.m.protocols[self._phase]]
        now = self.t.now()
        log.info("t=%.3f s: protocol %s", now, protocol.name)
        batch = []
        for i, ue in enumerate(self.ues):
            if protocol.uplink is None:
                es = []
            elif protocol.multi_es:
                es = list(self.ess)
            else:
                es = [self.ess[i % len(self.ess)]]
            for j, (name, image) in enumerate(self.images):
                req = Request(len(self.requests), protocol, ue, i, name, j, image, now + j * self.interval_s, es)
                self.requests.append(req)
                batch.append(req)
        self._pending = {r.rid for r in batch}
        for req in batch:
            self.t.schedule(req.t_request - now, lambda req=req: self._guard(req, self._issue, req))
            self.t.schedule(req.t_request - now + self.m.request_timeout_s, lambda req=req: self._timeout(req))

    def _resolve(self, req: Request, status: str, error: str = "") -> None:
        if req.status != "pending":
            return
        req.status, req.error = status, error
        if status != "ok":
            log.error("request %d (%s, %s, %s): %s %s", req.rid, req.protocol.name, req.ue, req.image, status, error)
        self._pending.discard(req.rid)
        if not self._pending:
            self.t.schedule(self.m.phase_gap_s, self._next_phase)

    def _timeout(self, req: Request) -> None:
        if req.status == "pending":
            self._resolve(req, "timeout", f"not finished {self.m.request_timeout_s} s after it was issued")

    def _guard(self, req: Request, fn: Callable, *args) -> None:
        """Run one step of a request; a failing agent fails this request only."""
        if req.status != "pending":
            return
        try:
            fn(*args)
        except AgentUnavailable as exc:
            self._resolve(req, "agent_dead", str(exc))
        except AgentError as exc:
            self._resolve(req, "undecodable" if "PayloadError" in str(exc) else "agent_error", str(exc))
        except Exception as exc:  # noqa: BLE001 - never let an exception unwind into the simulator
            log.exception("request %d failed", req.rid)
            self._resolve(req, "error", f"{type(exc).__name__}: {exc}")

    # -- stages ---------------------------------------------------------------------------
    def _issue(self, req: Request) -> None:
        """UE, before sending: ue_pre on the user's image, then one message to each ES."""
        p = req.protocol
        frames = [wire.pack_image(req.original, "raw")]
        sending = p.uplink is not None
        meta, frames, finish = self._chain(req, req.ue, p.ue_pre, frames, None, wire=sending)
        if not sending:
            req.result = wire.unpack(frames[0])
            self._finish(req, finish)
            return
        if "spans" in meta:
            req.spans, req.rows = [tuple(s) for s in meta["spans"]], int(meta["rows"])
            if len(frames) != len(req.es):
                raise RuntimeError(f"split gave {len(frames)} strips for {len(req.es)} edge servers")
        delay = finish - self.t.now()
        for k, es in enumerate(req.es):
            task = {"prompt": self.m.prompt, "seed": self._seed(req)}
            if req.spans is not None:
                task["rows"] = list(req.spans[k])
            payload = frames[k] if req.spans is not None else frames[0]
            self._send(req, req.ue, es, p.uplink, k, payload, json.dumps(task).encode(), delay)

    def on_message(self, msg: Msg) -> None:
        """Called by the transport when a message has arrived (simulated time = msg.t_rx)."""
        req = self.requests[msg.rid]
        handler = self._at_es if msg.dst in self.ess else self._at_ue
        self._guard(req, handler, req, msg)

    def _at_es(self, req: Request, msg: Msg) -> None:
        p = req.protocol
        task = json.loads((msg.rx_task or b"").decode("utf-8"))  # lossless text; a broken one fails the request
        seed = int(task["seed"]) + (7919 * msg.part if p.family == "parallel" else 0)  # parallel ESs: own noise
        ctx = {"prompt": str(task["prompt"]), "seed": seed, "rows": task.get("rows")}
        _, frames, finish = self._chain(req, msg.dst, p.es_ops, [msg.rx_payload], [self._channel(msg)],
                                        wire=True, ctx=ctx)
        self._send(req, msg.dst, req.ue, p.downlink, msg.part, frames[0], b"", finish - self.t.now())

    def _at_ue(self, req: Request, msg: Msg) -> None:
        if req.combined:
            return  # 'first' rule: the request is already answered; this reply only costs bits
        each, combine, after = meg_protocols.post_stages(req.protocol)
        forced = self.force_pick.get(req.key)
        if combine == "pick" and self.m.pick == "first" and forced is not None and msg.part != forced:
            return
        _, frames, finish = self._chain(req, req.ue, each, [msg.rx_payload], [self._channel(msg)], wire=False)
        req.candidates[msg.part] = frames[0]
        req.t_done = finish if math.isnan(req.t_done) else max(req.t_done, finish)
        first = combine == "pick" and self.m.pick == "first"
        if len(req.candidates) < len(req.es) and not first:
            return
        req.combined = True
        order = sorted(req.candidates)
        values = [req.candidates[k] for k in order]
        finishes = [req.t_done]
        if combine == "pick" and not first:
            meta, values, finish = self._chain(req, req.ue, ("pick",), [wire.pack_image(req.original, "raw")] + values,
                                          None, wire=False)
            req.picked = order[int(meta["index"])]
            finishes.append(finish)
        elif combine == "pick":
            req.picked = msg.part
        elif combine == "merge":
            _, values, finish = self._chain(req, req.ue, ("merge",), values, None, wire=False)
            finishes.append(finish)
        _, values, finish = self._chain(req, req.ue, after, values, None, wire=False)
        req.result = wire.unpack(values[0])
        self._finish(req, max(finishes + [finish]))

    def _finish(self, req: Request, t_done: float) -> None:
        req.t_done = t_done
        self.t.schedule(t_done - self.t.now(), lambda: self._resolve(req, "ok"))

    # -- helpers --------------------------------------------------------------------------
    def _send(self, req, src, dst, kind, part, payload: bytes, task: bytes, delay: float) -> None:
        msg = Msg(len(self.messages), req.rid, req.protocol.name, src, dst, kind, part, payload, task,
                  t_sent=self.t.now() + delay)
        self.messages[msg.mid] = msg
        self.t.send(msg, delay)

    def _channel(self, msg: Msg) -> dict | None:
        if self.snr_db is None:
            return None
        return {"snr_db": self.snr_db, "seed": (self.seed * 1_000_003 + 7 * msg.mid + 1) % 2**63}

    def _seed(self, req: Request) -> int:
        # The same image of the same UE gets the same noise under every protocol (fair comparison).
        return (self.seed * 1_000_003 + 10_007 * req.ue_index + 101 * req.image_index) % 2**31

    def _chain(self, req: Request, node: str, ops, frames: list[bytes], channel, *, wire: bool,
               ctx: dict | None = None):
        """Run ops on `node` one after the other (the first op gets `channel`); the last op's
        output is in the wire formats when it is to be sent, else lossless. Returns the last
        meta, the frames and the time the node's clock finishes them."""
        if not ops and channel is None:
            return {}, frames, self.t.now()
        # What arrived over the radio is demodulated (the feature channel) even if nothing else runs.
        ops = tuple(ops) or ("receive",)
        meta, duration = {}, 0.0
        for i, op in enumerate(ops):
            last = i == len(ops) - 1
            header = self._header(req, op, ctx or {})
            header["channel"] = channel if i == 0 else None
            if header["channel"] is not None:
                header["channel"] = header["channel"] + [None] * (len(frames) - len(header["channel"]))
            header["latent_format"] = self.m.latent_format if (last and wire) else "float32"
            header["image_format"] = self.m.image_format if (last and wire) else "raw"
            meta, frames = self.t.call(node, op, header, frames)
            duration += self._cost(node, meta)
        req.compute_s[node] = req.compute_s.get(node, 0.0) + duration
        return meta, frames, self.clocks[node].finish_time(self.t.now(), duration)

    def _header(self, req: Request, op: str, ctx: dict) -> dict:
        h = {"size": self.size}
        if op == "denoise":
            h.update(prompt=ctx.get("prompt", self.m.prompt), strength=self.m.strength,
                     seed=ctx.get("seed", self._seed(req)), rows=ctx.get("rows"))
        elif op == "complete":
            h.update(prompt=self.m.prompt, strength=self.m.complete_strength, seed=self._seed(req) + 1)
        elif op == "sketch":
            h.update(sketch_side=self.m.sketch_side)
        elif op == "split":
            h.update(parts=len(req.es), overlap=self.m.overlap_rows)
        elif op == "merge":
            h.update(spans=[list(s) for s in req.spans], rows=req.rows, overlap=self.m.overlap_rows)
        return h

    def _cost(self, node: str, meta: dict) -> float:
        c = self.m.compute
        if c.kind == "fixed":
            w = meta.get("work", {})
            seconds = (w.get("encode", 0.0) * c.encode_s + w.get("denoise_steps", 0.0) * c.denoise_step_s
                       + w.get("decode", 0.0) * c.decode_s)
        else:
            seconds = float(meta.get("compute_s", 0.0)) * c.es_scale
        return seconds * (c.ue_slowdown if node in self.ues else 1.0)


class LocalTransport:
    """An in-process discrete-event loop: a message arrives `latency_s` + bits / `rate_bps`
    after it leaves, intact. Agents are called through `call(node, op, header, frames)`."""

    def __init__(self, call: Callable, rate_bps: float = 10e6, latency_s: float = 0.01):
        self._call, self.rate_bps, self.latency_s = call, rate_bps, latency_s
        self.engine: MegEngine | None = None
        self._queue: list = []
        self._seq = 0
        self._now = 0.0
        self._stopped = False

    def now(self) -> float:
        return self._now

    def schedule(self, delay: float, fn: Callable) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self._now + max(0.0, delay), self._seq, fn))

    def send(self, msg: Msg, delay: float) -> None:
        bits = 8 * (len(msg.payload) + len(msg.task))

        def arrive():
            msg.t_rx, msg.complete, msg.crc_ok = self._now, True, True
            msg.rx_payload, msg.rx_task = msg.payload, msg.task
            self.engine.on_message(msg)
        self.schedule(delay + self.latency_s + bits / self.rate_bps, arrive)

    def call(self, node: str, op: str, header: dict, frames: list[bytes]):
        return self._call(node, op, header, frames)

    def stop(self) -> None:
        self._stopped = True

    def run(self, until_s: float = 1e6) -> float:
        while self._queue and not self._stopped:
            t, _, fn = heapq.heappop(self._queue)
            if t > until_s:
                break
            self._now = t
            fn()
        return self._now


def local_caller(agents: dict) -> Callable:
    """call() over in-process MegAgent objects (node -> agent), timing each op like the bridge."""
    import time

    def call(node, op, header, frames):
        start = time.perf_counter()
        meta, out = agents[node].handlers()[op](header, frames)
        return {**meta, "compute_s": time.perf_counter() - start}, out
    return call


def bridge_caller(agents: dict) -> Callable:
    """call() over the agents' bridge (node -> AgentProcess). An agent whose process has exited
    fails at once instead of after the client's timeouts."""
    from gensemcom.bridge import schema

    def call(node, op, header, frames):
        agent = agents[node]
        code = agent.proc.poll()
        if code is not None:
            agent.client.dead = True
            raise AgentUnavailable(f"agent {node} exited (code {code})")
        answer = agent.client.call(schema.request(op, frames, **header))
        return answer.header, answer.frames
    return call
