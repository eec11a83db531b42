"""Scenario `lte_edge`: semantic units from source nodes to a GenAI node over a channel, and the
generated content on to a sink, packet by packet, with the models in the loop.

config -> agents -> source encoding -> ns-3 (the channel of `channel`: LTE or the semantic
link) with the GenAI node calling the generator agent -> traces, metrics, figures.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.agents.agent import STREAMS as ALL_STREAMS
from gensemcom.analysis import metrics, plots
from gensemcom.bridge import schema
from gensemcom.bridge.client import AgentError, AgentUnavailable
from gensemcom.constants import DELIVERY_PORT, UNIT_PORT
from gensemcom.core import ns3, packet_trace, progress, registry
from gensemcom.bridge.pool import WorkerPool
from gensemcom.core.agent_set import AgentSet, semantic_unit_agents, worker_names
from gensemcom.core.compute_clock import ComputeClock
from gensemcom.core.records import finite_or_none, write_summary

log = logging.getLogger("gensemcom")

GENERATED_STREAM = 0


@dataclass
class Unit:
    """One image's journey; fields become a row of units.parquet."""

    unit: int
    image: str
    source: str
    original: np.ndarray
    t_arrival: float
    streams: dict[str, bytes] = field(default_factory=dict)
    prompt: str = ""
    encode_wall_s: float = float("nan")
    t_sent: float = float("nan")
    t_genai_first_rx: float = float("nan")
    t_genai_ready: float = float("nan")
    t_generated: float = float("nan")
    t_delivered: float = float("nan")
    genai_complete: bool = False
    genai_crc_ok: dict = field(default_factory=dict)
    received_edge: bytes | None = None
    generate_wall_s: float = float("nan")
    fallback: str | None = None
    generated_bytes: int = 0
    delivered_crc_ok: bool | None = None
    delivered: bytes | None = None
    status: str = "undelivered_uplink"  # until the GenAI node has the unit
    error: str = ""
    failed_at_unix_s: float = float("nan")  # wall clock when a failure was recorded, beside the agents' logs


def _failed(u: Unit, status: str, error: str) -> None:
    u.status, u.error, u.failed_at_unix_s = status, error, time.time()


def _agent_failed(u: Unit, stage: str, exc: Exception) -> None:
    """A dead or failing agent fails this unit only; the run goes on. The log gets one line per
    unit (the agent's log tail is in the unit's error, and in the supervisor's line)."""
    _failed(u, "agent_dead" if isinstance(exc, AgentUnavailable) else "agent_error", str(exc))
    log.error("unit %d: %s failed: %s", u.unit, stage, u.error.splitlines()[0] if u.error else "")


def _decode_png(data: bytes) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - a corrupted delivery is a result, not a crash
        return None


class Run:
    def __init__(self, cfg, out: Path, agents: AgentSet):
        self.cfg, self.out, self.agents = cfg, out, agents
        self.units: list[Unit] = []
        self.local_sink = False
        self.trace = None  # the simulation's SemanticTraceSink
        # Units still to be resolved (delivered, or failed for good), and the one the generator
        # has now; the agents' supervisor thread changes them too (generator_exited).
        self.pending: set[int] = set()
        self.generating: int | None = None
        # Pipelined generation: unit -> id of its outstanding request, and its planned finish time.
        self.outstanding: dict[int, tuple[int, int]] = {}   # unit -> (worker, request id)
        self.planned: dict[int, float] = {}
        self.pipelined = False
        # Wall times (seconds) for summary.json's wall_s: encoding, the simulation (with the
        # joins after it), the part of the latter spent waiting for the generator agent, and
        # each agent's busy time (agent_busy, from pool()).
        self.timing = {"encode": 0.0, "simulate": 0.0, "simulate_agent_wait": 0.0}
        self.pools: list[tuple[list[str], WorkerPool]] = []
        self.lock = threading.Lock()

    def pool(self, role: str) -> WorkerPool:
        """The agents.workers agents of a role as one client; their busy times go to
        summary.json wall_s.agent_busy (each worker's compute_s summed: bench/pipeline.py)."""
        names = worker_names(role, self.cfg)
        pool = WorkerPool([self.agents[name].client for name in names])
        self.timing.setdefault("agent_busy", {}).update({name: 0.0 for name in names})
        self.pools.append((names, pool))
        return pool

    def record_busy(self) -> None:
        for names, pool in self.pools:
            self.timing["agent_busy"].update(zip(names, pool.busy_s))

    # -- source side ----------------------------------------------------------------------
    def make_units(self, sources: list[str]) -> None:
        from gensemcom.agents.images import load_image

        im = self.cfg.images
        names = im.names * im.repeat
        per_source = {s: 0 for s in sources}
        for k, name in enumerate(names):
            source = sources[k % len(sources)]
            t = im.start_s + per_source[source] * im.interval_s
            per_source[source] += 1
            self.units.append(Unit(k, name, source, load_image(name, im.size), t))

    def encode_units(self) -> None:
        """Every unit through the source encoder agent. Pipelined (agents.pipeline): all requests
        are sent first, then the replies are collected in unit order (the agent works through its
        queue meanwhile); else one request at a time. The same results either way."""
        encoder = self.pool("encoder")
        clocks: dict[str, ComputeClock] = {}
        c = self.cfg.compute
        pipelined = self.cfg.agents.pipeline
        sent: dict[int, int] = {}
        if pipelined:
            for u in self.units:
                h, w = u.original.shape[:2]
                try:
                    sent[u.unit] = encoder.submit(schema.request("encode", [u.original.tobytes()], h=h, w=w))
                except AgentUnavailable as exc:
                    _agent_failed(u, "encoding", exc)
        for u in tqdm(self.units, desc="encoding (source agent)", unit="unit"):
            if u.status != "undelivered_uplink":   # failed at submission already
                continue
            h, w = u.original.shape[:2]
            try:
                answer = (encoder.join(sent[u.unit]) if pipelined else
                          encoder.call(schema.request("encode", [u.original.tobytes()], h=h, w=w)))
            except (AgentUnavailable, AgentError) as exc:
                _agent_failed(u, "encoding", exc)
                continue
            u.streams = dict(zip(answer.header["streams"], answer.frames))
            u.prompt = answer.header.get("prompt", "")
            u.encode_wall_s = answer.header["compute_s"]
            clock = clocks.setdefault(u.source, ComputeClock(c.kind, c.encode_s, c.scale))
            u.t_sent = clock.finish_time(u.t_arrival, u.encode_wall_s)

    # -- simulation -----------------------------------------------------------------------
    def simulate(self) -> None:
        cfg = self.cfg
        ns = ns3.load_ns()
        g = ns.cppyy.gbl.ns3
        self.trace = ns3.reset(ns, cfg.seed)
        channel = registry.load_channel(cfg.channel)
        net = channel.build(ns, cfg, self.trace)
        self.make_units(net.sources)
        t0 = time.perf_counter()
        self.encode_units()
        self.timing["encode"] = time.perf_counter() - t0
        # Mean bits per stream: known once the units are encoded (the semantic link's power
        # split depends on them).
        encoded = [u for u in self.units if u.streams]
        bits = [8.0 * float(np.mean([len(u.streams[s]) for u in encoded])) if encoded else 8.0
                for s in cfg.app.streams]
        channel.ready(ns, cfg, net, bits, self.trace)
        self.local_sink = net.sink == net.genai  # the receiver generates for itself: no downlink

        def make_app(name: str, listen_port: int = 0, num_ports: int = 1):
            return ns3.install_semantic_app(
                ns, net.nodes[name], name, segment_bytes=cfg.app.segment_bytes, rate=cfg.app.rate,
                unit_timeout_s=cfg.app.unit_timeout_s, listen_port=listen_port, num_ports=num_ports,
                trace=self.trace)

        senders = {s: make_app(s) for s in net.sources}
        streams = cfg.app.streams
        genai = make_app(net.genai, UNIT_PORT, len(streams))
        sink = make_app(net.sink, DELIVERY_PORT, 1)
        if cfg.bit_errors.ber > 0:
            em = ns.CreateObject[g.BitFlipErrorModel]()
            em.SetAttribute("BitErrorRate", ns.DoubleValue(cfg.bit_errors.ber))
            em.SetAttribute("ProtectedBytes", ns.UintegerValue(g.SemanticHeader.kSize))
            em.AssignStreams(cfg.seed * 7919)
            genai.SetReceiveErrorModel(em)
            ns3.keep_alive(em)

        by_id = {u.unit: u for u in self.units}
        genai_addr, sink_addr = net.addresses[net.genai], net.addresses[net.sink]
        for u in self.units:
            if not u.streams:  # encoding failed: nothing to send
                continue
            for sid, name in enumerate(streams):
                senders[u.source].SendStream(ns.Seconds(u.t_sent), genai_addr, UNIT_PORT + sid,
                                             u.unit, sid, len(streams), u.streams[name])

        # The generator agents (agents.workers of them) as one client.
        self.generator_names = worker_names("generator", cfg)
        generator = self.pool("generator")
        gen_clock = ComputeClock(cfg.compute.kind, cfg.compute.generate_s, cfg.compute.scale)
        # Pipelined: the finish time of a request is known when it is sent (fixed compute model),
        # so ns-3 runs on while the agent computes, and the reply is joined at that time.
        self.pipelined = cfg.agents.pipeline and cfg.compute.kind == "fixed"
        if cfg.agents.pipeline and not self.pipelined:
            log.info("compute.kind is %r: the simulated finish time of a generation depends on its measured "
                     "time, so each generator request blocks the simulation (agents.pipeline has no effect "
                     "on generation)", cfg.compute.kind)

        # The run stops early when no unit is pending, and at the latest sim.drain_s after the
        # last send.
        self.pending = {u.unit for u in self.units if u.streams}
        for k, name in enumerate(self.generator_names):
            self.agents.on_exit(name, functools.partial(self.generator_exited, worker=k))

        def resolved(unit_id: int) -> None:
            with self.lock:
                self.pending.discard(unit_id)
                if not self.pending:
                    ns.Simulator.Stop()

        def on_genai_unit(unit_id: int) -> None:
            # Blocking mode: simulated time stands still here while the generator agent computes.
            # Pipelined: the request is only sent here; join_generated runs at its finish time.
            u = by_id.get(unit_id)
            with self.lock:
                if u is None or unit_id not in self.pending:
                    if u is None:
                        log.warning("GenAI node received unit %d, which this run never sent: ignored", unit_id)
                    genai.ReleaseUnit(unit_id)   # or failed already: its generator is dead
                    return
                self.generating = unit_id
            try:
                if self.pipelined:
                    self._submit_generate(ns, genai, generator, gen_clock, u, sink_addr, resolved)
                else:
                    self._generate(ns, genai, generator, gen_clock, u, sink_addr)
            except Exception as exc:  # noqa: BLE001 - never let an exception unwind into C++
                log.exception("unit %d: GenAI handling failed", unit_id)
                _failed(u, "genai_error", str(exc))
            finally:
                self.generating = None
                genai.ReleaseUnit(unit_id)
            # Failed at the GenAI node, or generated locally (pipelined: as soon as it is sent, as
            # the blocking mode resolves it when the agent answers, in the same simulated instant).
            if u.status != "undelivered_downlink" and (u.unit not in self.outstanding or self.local_sink):
                resolved(unit_id)

        def on_sink_unit(unit_id: int) -> None:
            u = by_id.get(unit_id)
            if u is not None:
                u.t_delivered = sink.GetUnitReadyTime(unit_id).GetSeconds()
                u.delivered_crc_ok = bool(sink.IsUnitComplete(unit_id)) and bool(
                    sink.IsStreamCrcOk(unit_id, GENERATED_STREAM))
                u.delivered = ns3.vector_bytes(sink.GetStreamBytes(unit_id, GENERATED_STREAM))
                resolved(unit_id)
            sink.ReleaseUnit(unit_id)

        ns3.keep_alive(on_genai_unit)
        ns3.keep_alive(on_sink_unit)
        genai.SetUnitHandler(on_genai_unit)
        sink.SetUnitHandler(on_sink_unit)

        stop_s = max((u.t_sent for u in self.units if u.streams), default=0.0) + cfg.sim.drain_s
        t0 = time.perf_counter()
        self.sim_end_s = (progress.run_simulation(ns, stop_s, f"ns-3 simulation ({cfg.channel})",
                                                  done=lambda: not self.pending)
                          if self.pending else 0.0)
        with self.lock:   # what is left stays as the simulation left it (undelivered_*), whatever exits now
            self.pending.clear()
        # Requests whose finish time the simulation did not reach: their replies still come in,
        # as the blocking mode has them (generated, the stream never sent).
        for unit_id in sorted(self.outstanding):
            self._join_generated(ns, genai, generator, by_id[unit_id], sink_addr, None, send=False)
        self.timing["simulate"] = time.perf_counter() - t0
        self.record_busy()
        channel.finish(net)
        ns.Simulator.Destroy()
        ns3.keep_alive(net)
        self.net_info = net.info
        self.channel = channel

    def generator_exited(self, reason: str, worker: int = 0) -> None:
        """From the agents' supervisor, within agent_set.WATCH_S of a generator's exit: every
        unit whose request that worker holds fails now (pipelined); once no worker is left, so
        does every unit still waiting for one, not when the simulation brings it to the GenAI
        node. In the blocking mode the one being generated fails through its call."""
        none_left = all(self.agents[name].exit_reason() is not None for name in self.generator_names)
        with self.lock:
            for u in self.units:
                waiting = (none_left and u.unit in self.pending and u.status == "undelivered_uplink"
                           and u.unit != self.generating)
                if waiting or self.outstanding.get(u.unit, (None,))[0] == worker:
                    _agent_failed(u, "generation", AgentUnavailable(reason))
                    self.pending.discard(u.unit)
                    self.outstanding.pop(u.unit, None)

    def _submit_generate(self, ns, genai, generator, clock: ComputeClock, u: Unit, sink_addr, resolved) -> None:
        """Pipelined generation, at the GenAI node's handover of unit `u`: the request goes out
        without waiting, and an event at its finish time (the fixed compute model knows it now)
        joins the reply and sends the generated stream on."""
        request = self._gather(genai, u)
        now = ns.Simulator.Now().GetSeconds()
        try:
            rid = generator.submit(request)
        except AgentUnavailable as exc:
            _agent_failed(u, "generation", exc)
            return
        t_generated = clock.finish_time(now, 0.0)
        with self.lock:
            self.outstanding[u.unit] = rid

        def join() -> None:
            try:
                self._join_generated(ns, genai, generator, u, sink_addr, t_generated, send=True)
            except Exception as exc:  # noqa: BLE001 - never let an exception unwind into C++
                log.exception("unit %d: GenAI handling failed", u.unit)
                _failed(u, "genai_error", str(exc))
            if u.status != "undelivered_downlink":
                resolved(u.unit)

        self.planned[u.unit] = t_generated
        ns3.schedule(t_generated - now, join)

    def _join_generated(self, ns, genai, generator, u: Unit, sink_addr, t_generated, send: bool) -> None:
        """The reply to unit `u`'s outstanding request (blocking until it is there), then what
        _generate does with it. Nothing if the unit failed meanwhile (its generator exited)."""
        with self.lock:
            rid = self.outstanding.get(u.unit)
        if rid is None:
            return
        t0 = time.perf_counter()
        try:
            answer = generator.join(rid)
        except (AgentUnavailable, AgentError) as exc:
            self.timing["simulate_agent_wait"] += time.perf_counter() - t0
            with self.lock:
                if self.outstanding.pop(u.unit, None) is not None:
                    _agent_failed(u, "generation", exc)
            return
        self.timing["simulate_agent_wait"] += time.perf_counter() - t0
        with self.lock:
            if self.outstanding.pop(u.unit, None) is None:
                return   # failed by generator_exited while the reply came in
        self._generated(ns, genai, u, answer, self.planned[u.unit], sink_addr, send)

    def _gather(self, genai, u: Unit) -> schema.Message:
        """The GenAI node's received streams of unit `u`, as the generator's request."""
        u.t_genai_first_rx = genai.GetUnitFirstRxTime(u.unit).GetSeconds()
        u.t_genai_ready = genai.GetUnitReadyTime(u.unit).GetSeconds()
        u.genai_complete = bool(genai.IsUnitComplete(u.unit))
        names, frames, complete, crc_ok = [], [], [], []
        for sid in genai.GetStreamIds(u.unit):
            name = self.cfg.app.streams[int(sid)]
            names.append(name)
            frames.append(ns3.vector_bytes(genai.GetStreamBytes(u.unit, sid)))
            complete.append(bool(genai.IsStreamComplete(u.unit, sid)))
            crc_ok.append(bool(genai.IsStreamCrcOk(u.unit, sid)))
        u.genai_crc_ok = dict(zip(names, crc_ok))
        u.received_edge = dict(zip(names, frames)).get("edge")
        h, w = u.original.shape[:2]
        return schema.request("generate", frames, unit=u.unit, streams=names, complete=complete,
                              crc_ok=crc_ok, h=h, w=w)

    def _generated(self, ns, genai, u: Unit, answer, t_generated: float, sink_addr, send: bool) -> None:
        """Unit `u`'s generated content, at t_generated: to the sink (send: now, from inside the
        event at t_generated), or kept (a local sink; or the simulation has ended)."""
        u.generate_wall_s = answer.header["compute_s"]
        u.fallback = answer.header.get("fallback")
        content = answer.frames[0]
        u.generated_bytes = len(content)
        u.t_generated = t_generated
        if self.local_sink:
            u.t_delivered, u.delivered, u.delivered_crc_ok = u.t_generated, content, True
            u.status = "generated"
            return
        u.status = "undelivered_downlink"  # until the sink has it
        if send:
            genai.SendStreamNow(sink_addr, DELIVERY_PORT, u.unit, GENERATED_STREAM, 1, content)

    def _generate(self, ns, genai, generator, clock: ComputeClock, u: Unit, sink_addr) -> None:
        """Blocking generation: simulated time stands still until the agent answers."""
        request = self._gather(genai, u)
        t0 = time.perf_counter()
        try:
            answer = generator.call(request)
        except (AgentUnavailable, AgentError) as exc:
            _agent_failed(u, "generation", exc)
            return
        finally:
            self.timing["simulate_agent_wait"] += time.perf_counter() - t0
        now = ns.Simulator.Now().GetSeconds()
        t_generated = clock.finish_time(now, answer.header["compute_s"])
        self._generated(ns, genai, u, answer, t_generated, sink_addr, send=False)
        if u.status == "undelivered_downlink":
            genai.SendStream(ns.Seconds(u.t_generated - now), sink_addr, DELIVERY_PORT, u.unit,
                             GENERATED_STREAM, 1, answer.frames[0])

    # -- outputs --------------------------------------------------------------------------
    def finalize_units(self) -> pd.DataFrame:
        from gensemcom.analysis.lpips import lpips_score
        from gensemcom.agents.semantics import decode_edges, render_conditioning

        rows, grid = [], []
        device = self.cfg.agents.metrics_device()
        for u in self.units:
            h, w = u.original.shape[:2]
            delivered = _decode_png(u.delivered) if u.delivered is not None else None
            psnr = ms_ssim = lpips = float("nan")
            if delivered is not None and delivered.shape == u.original.shape:
                psnr, ms_ssim = metrics.psnr(u.original, delivered), metrics.ms_ssim(u.original, delivered)
                lpips = lpips_score(u.original, delivered, device=device)
                degraded = not all(u.genai_crc_ok.values()) or not u.genai_complete or u.fallback
                u.status = "degraded" if degraded or not u.delivered_crc_ok else "ok"
            elif u.delivered is not None:
                u.status = "delivered_undecodable"
            sizes = {k: len(u.streams[k]) if k in u.streams else None for k in ALL_STREAMS}
            total = sum(v for v in sizes.values() if v is not None)
            rows.append({
                "unit": u.unit, "image": u.image, "source": u.source, "status": u.status,
                "error": u.error, "prompt": u.prompt, "height": h, "width": w,
                **{f"bytes_{k}": v for k, v in sizes.items()},
                "bytes_total": total, "bpp_total": metrics.bpp(total, h, w),
                **{f"bpp_{k}": None if v is None else metrics.bpp(v, h, w) for k, v in sizes.items()},
                "t_arrival": u.t_arrival, "t_sent": u.t_sent, "t_genai_first_rx": u.t_genai_first_rx,
                "t_genai_ready": u.t_genai_ready, "t_generated": u.t_generated,
                "t_delivered": u.t_delivered, "latency_s": u.t_delivered - u.t_arrival,
                "genai_complete": u.genai_complete,
                **{f"crc_ok_{k}": u.genai_crc_ok.get(k) for k in ALL_STREAMS},
                "fallback": u.fallback, "generated_bytes": u.generated_bytes,
                "delivered_crc_ok": u.delivered_crc_ok,
                "encode_wall_s": u.encode_wall_s, "generate_wall_s": u.generate_wall_s,
                "failed_at_unix_s": u.failed_at_unix_s,
                "psnr_db": psnr, "ms_ssim": ms_ssim, "lpips": lpips,
            })
            conditioning = None
            if u.received_edge is not None:
                try:
                    conditioning = render_conditioning(decode_edges(u.received_edge), h)
                except ValueError:
                    conditioning = None
            grid.append({"title": f"unit {u.unit}: {u.image}", "original": u.original,
                         "conditioning": conditioning, "generated": delivered,
                         "caption": f"{u.status}, PSNR {psnr:.1f} dB, LPIPS {lpips:.3f}, "
                                    f"{metrics.bpp(total, h, w):.3f} bpp"})
        self._grid = grid
        return pd.DataFrame(rows)

    def write_outputs(self, units: pd.DataFrame, wall: dict) -> dict:
        packets = packet_trace.write(self.trace, self.out)
        units.to_parquet(self.out / "units.parquet", index=False)

        plots.image_grid(self._grid, self.out / "grid.png")
        plots.latency_breakdown(units, self.out / "latency.png")
        plots.phy_activity(packets, self.out / f"{self.cfg.channel}_phy.png", self.cfg.channel)

        ok = units[units["status"].isin(["ok", "degraded"])]
        summary = {
            "name": self.cfg.name, "seed": self.cfg.seed, "results": str(self.out),
            "simulated_s": self.sim_end_s,
            "units": len(units), "status_counts": units["status"].value_counts().to_dict(),
            "mean_latency_s": finite_or_none(ok["latency_s"].mean()),
            "mean_psnr_db": finite_or_none(ok["psnr_db"].replace(np.inf, np.nan).mean()),
            "mean_ms_ssim": finite_or_none(ok["ms_ssim"].mean()),
            "mean_lpips": finite_or_none(ok["lpips"].mean()),
            "mean_bpp_total": finite_or_none(units["bpp_total"].mean()),
            self.cfg.channel: self.channel.phy_summary(packets, self.net_info),
            "network": self.net_info, "wall_s": wall,
        }
        write_summary(self.out, summary)
        return summary


def run(cfg, out: Path) -> dict:
    """Run one scenario end to end; returns the summary (also written to summary.json)."""
    t0 = time.perf_counter()
    wall = {}
    with AgentSet(semantic_unit_agents(cfg), out, cfg.agents) as agents:
        r = Run(cfg, out, agents)
        ns3.load_ns()  # ~15 s of C++ header parsing, overlapped with the agents' start-up
        wall["ns3_import"] = time.perf_counter() - t0
        agents.wait_ready()
        wall["agents_ready"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        r.simulate()
        wall["encode_and_simulate"] = time.perf_counter() - t1
        wall.update(r.timing)
    t2 = time.perf_counter()
    units = r.finalize_units()
    wall["metrics_and_outputs"] = time.perf_counter() - t2
    wall["total"] = time.perf_counter() - t0
    return r.write_outputs(units, wall)


def report(summary: dict) -> str:
    keys = ("units", "status_counts", "mean_latency_s", "mean_psnr_db", "mean_ms_ssim", "mean_lpips",
            "mean_bpp_total")
    phy = {k: summary[k] for k in summary if k in registry.CHANNELS and summary[k] is not None}
    return json.dumps({**{k: summary[k] for k in keys}, **phy}, indent=2)
