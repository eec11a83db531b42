"""One run: config -> agents -> source encoding -> ns-3 packet simulation with the GenAI node in
the loop -> traces, metrics, figures under results/<name>/<timestamp>/."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import metrics, plots
from gensemcom.agents.agent import STREAMS as ALL_STREAMS
from gensemcom.bridge import schema
from gensemcom.bridge.client import AgentError, AgentUnavailable
from gensemcom.bridge.launcher import AgentProcess
from gensemcom.config import Config
from gensemcom.scenarios import lte_edge, runtime, trace_sink

log = logging.getLogger("gensemcom")

REPO_ROOT = runtime.REPO_ROOT
UPLINK_PORT = 9000    # + stream index: one port per stream (lets EPC filters split bearers)
DOWNLINK_PORT = 9100
GENERATED_STREAM = 0
# Test-only fault injection: names of agents to SIGKILL right after they are ready.
KILL_ENV = "GENSEMCOM_KILL_AGENTS"


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


class ComputeClock:
    """Simulated compute time of one serial processor (FIFO): a unit waits while the previous
    one is still being processed."""

    def __init__(self, kind: str, fixed_s: float, scale: float):
        self.kind, self.fixed_s, self.scale = kind, fixed_s, scale
        self.busy_until = 0.0

    def finish_time(self, now: float, measured_s: float) -> float:
        duration = self.fixed_s if self.kind == "fixed" else measured_s * self.scale
        start = max(now, self.busy_until)
        self.busy_until = start + duration
        return self.busy_until


def results_dir(cfg: Config) -> Path:
    root = Path(cfg.output_dir)
    if not root.is_absolute():
        root = REPO_ROOT / root
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = root / cfg.name / stamp
    suffix = 1
    while out.exists():
        suffix += 1
        out = root / cfg.name / f"{stamp}-{suffix}"
    out.mkdir(parents=True)
    return out


def start_agent_processes(cfg: Config, out: Path, streams: list[str] | None = None) -> dict[str, AgentProcess]:
    """The encoder and generator agents of a run (started, not yet ready)."""
    a = cfg.agents
    options = {"threads": a.threads, "seed": cfg.seed, "streams": streams or cfg.app.streams,
               "models": cfg.models.model_dump(), "edge_format": cfg.app.edge_format}
    return {role: AgentProcess(role, role, options, out, timeout_s=a.timeout_s, retries=a.retries,
                               ready_timeout_s=a.ready_timeout_s) for role in ("encoder", "generator")}


def _agent_failed(u: Unit, stage: str, exc: Exception) -> None:
    """A dead or failing agent fails this unit only; the run goes on."""
    u.status = "agent_dead" if isinstance(exc, AgentUnavailable) else "agent_error"
    u.error = str(exc)
    log.error("unit %d: %s failed: %s", u.unit, stage, exc)


def _decode_png(data: bytes) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - a corrupted delivery is a result, not a crash
        return None


class Run:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.out = results_dir(cfg)
        self.units: list[Unit] = []
        self.agents: dict[str, AgentProcess] = {}
        self.local_sink = False
        self.trace = None  # the simulation's SemanticTraceSink

    # -- agents ---------------------------------------------------------------------------
    def spawn_agents(self) -> None:
        self.agents = start_agent_processes(self.cfg, self.out)

    def wait_agents(self) -> None:
        for agent in self.agents.values():
            info = agent.wait_ready()
            log.info("agent %s ready: %s", agent.name, info)
        for name in filter(None, os.environ.get(KILL_ENV, "").split(",")):
            log.warning("fault injection: killing agent %s", name)
            self.agents[name].proc.kill()
            self.agents[name].proc.wait()

    def stop_agents(self) -> None:
        for agent in self.agents.values():
            agent.stop()

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
        encoder = self.agents["encoder"].client
        clocks: dict[str, ComputeClock] = {}
        c = self.cfg.compute
        for u in tqdm(self.units, desc="encoding (source agent)", unit="unit"):
            h, w = u.original.shape[:2]
            try:
                answer = encoder.call(schema.request("encode", [u.original.tobytes()], h=h, w=w))
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
        ns = runtime.load_ns()
        g = ns.cppyy.gbl.ns3
        ns.RngSeedManager.SetSeed(cfg.seed)
        ns.RngSeedManager.SetRun(cfg.seed)
        self.trace = trace_sink.create(ns)

        link = None
        if cfg.channel == "semantic_link":
            from gensemcom import link_setup
            net, link = link_setup.build(ns, cfg, trace=self.trace)
        else:
            net = lte_edge.build(ns, cfg, REPO_ROOT / "build" / "fading")
        self.make_units(net.sources)
        self.encode_units()
        if link is not None:
            # The power split depends on the stream sizes, known once the units are encoded.
            encoded = [u for u in self.units if u.streams]
            bits = [8.0 * float(np.mean([len(u.streams[s]) for u in encoded])) if encoded else 8.0
                    for s in cfg.app.streams]
            net.info["allocation_applied"] = link_setup.set_powers(cfg, link, bits)
        else:
            self.trace.ConnectLtePhy()
        self.local_sink = net.sink == net.genai  # the receiver generates for itself: no downlink

        def make_app(name: str, listen_port: int = 0, num_ports: int = 1):
            return runtime.install_semantic_app(
                ns, net.nodes[name], name, segment_bytes=cfg.app.segment_bytes, rate=cfg.app.rate,
                unit_timeout_s=cfg.app.unit_timeout_s, listen_port=listen_port, num_ports=num_ports,
                trace=self.trace)

        senders = {s: make_app(s) for s in net.sources}
        streams = cfg.app.streams
        genai = make_app(net.genai, UPLINK_PORT, len(streams))
        sink = make_app(net.sink, DOWNLINK_PORT, 1)
        if cfg.bit_errors.ber > 0:
            em = ns.CreateObject[g.BitFlipErrorModel]()
            em.SetAttribute("BitErrorRate", ns.DoubleValue(cfg.bit_errors.ber))
            em.SetAttribute("ProtectedBytes", ns.UintegerValue(g.SemanticHeader.kSize))
            em.AssignStreams(cfg.seed * 7919)
            genai.SetReceiveErrorModel(em)
            runtime.keep_alive(em)

        by_id = {u.unit: u for u in self.units}
        es_addr, sink_addr = net.addresses[net.genai], net.addresses[net.sink]
        for u in self.units:
            if not u.streams:  # encoding failed: nothing to send
                continue
            for sid, name in enumerate(streams):
                senders[u.source].SendStream(ns.Seconds(u.t_sent), es_addr, UPLINK_PORT + sid,
                                             u.unit, sid, len(streams), u.streams[name])

        generator = self.agents["generator"].client
        gen_clock = ComputeClock(cfg.compute.kind, cfg.compute.generate_s, cfg.compute.scale)

        # Units still to be resolved (delivered, or failed for good); the run stops early when
        # none is left, and at the latest sim.drain_s after the last send.
        pending = {u.unit for u in self.units if u.streams}

        def resolved(unit_id: int) -> None:
            pending.discard(unit_id)
            if not pending:
                ns.Simulator.Stop()

        def on_genai_unit(unit_id: int) -> None:
            # Simulated time stands still here while the generator agent computes.
            u = by_id.get(unit_id)
            if u is None:
                log.warning("GenAI node received unit %d, which this run never sent: ignored", unit_id)
                genai.ReleaseUnit(unit_id)
                return
            try:
                self._generate(ns, genai, generator, gen_clock, u, sink_addr)
            except Exception as exc:  # noqa: BLE001 - never let an exception unwind into C++
                log.exception("unit %d: GenAI handling failed", unit_id)
                u.status, u.error = "genai_error", str(exc)
            finally:
                genai.ReleaseUnit(unit_id)
            if u.status != "undelivered_downlink":  # failed at the GenAI node, or generated locally
                resolved(unit_id)

        def on_sink_unit(unit_id: int) -> None:
            u = by_id.get(unit_id)
            if u is not None:
                u.t_delivered = sink.GetUnitReadyTime(unit_id).GetSeconds()
                u.delivered_crc_ok = bool(sink.IsUnitComplete(unit_id)) and bool(
                    sink.IsStreamCrcOk(unit_id, GENERATED_STREAM))
                u.delivered = runtime.vector_bytes(sink.GetStreamBytes(unit_id, GENERATED_STREAM))
                resolved(unit_id)
            sink.ReleaseUnit(unit_id)

        runtime.keep_alive(on_genai_unit)
        runtime.keep_alive(on_sink_unit)
        genai.SetUnitHandler(on_genai_unit)
        sink.SetUnitHandler(on_sink_unit)

        stop_s = max((u.t_sent for u in self.units if u.streams), default=0.0) + cfg.sim.drain_s
        self.sim_end_s = self._run_with_progress(ns, stop_s) if pending else 0.0
        if link is not None:
            net.info["link_stats"] = link_setup.link_summary(link)
        ns.Simulator.Destroy()
        runtime.keep_alive(net)
        self.net_info = net.info

    def _generate(self, ns, genai, generator, clock: ComputeClock, u: Unit, sink_addr) -> None:
        u.t_genai_first_rx = genai.GetUnitFirstRxTime(u.unit).GetSeconds()
        u.t_genai_ready = genai.GetUnitReadyTime(u.unit).GetSeconds()
        u.genai_complete = bool(genai.IsUnitComplete(u.unit))
        names, frames, complete, crc_ok = [], [], [], []
        for sid in genai.GetStreamIds(u.unit):
            name = self.cfg.app.streams[int(sid)]
            names.append(name)
            frames.append(runtime.vector_bytes(genai.GetStreamBytes(u.unit, sid)))
            complete.append(bool(genai.IsStreamComplete(u.unit, sid)))
            crc_ok.append(bool(genai.IsStreamCrcOk(u.unit, sid)))
        u.genai_crc_ok = dict(zip(names, crc_ok))
        u.received_edge = dict(zip(names, frames)).get("edge")
        h, w = u.original.shape[:2]
        request = schema.request("generate", frames, unit=u.unit, streams=names, complete=complete,
                                 crc_ok=crc_ok, h=h, w=w)
        try:
            answer = generator.call(request)
        except (AgentUnavailable, AgentError) as exc:
            _agent_failed(u, "generation", exc)
            return
        u.generate_wall_s = answer.header["compute_s"]
        u.fallback = answer.header.get("fallback")
        content = answer.frames[0]
        u.generated_bytes = len(content)
        now = ns.Simulator.Now().GetSeconds()
        u.t_generated = clock.finish_time(now, u.generate_wall_s)
        if self.local_sink:
            u.t_delivered, u.delivered, u.delivered_crc_ok = u.t_generated, content, True
            u.status = "generated"
            return
        u.status = "undelivered_downlink"  # until the sink has it
        genai.SendStream(ns.Seconds(u.t_generated - now), sink_addr, DOWNLINK_PORT, u.unit,
                         GENERATED_STREAM, 1, content)

    def _run_with_progress(self, ns, stop_s: float, step_s: float = 0.05) -> float:
        """Run until stop_s (or an earlier Simulator::Stop); returns the simulated end time."""
        bar = tqdm(total=round(stop_s, 3), desc=f"ns-3 simulation ({self.cfg.channel})", unit="sim-s",
                   bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} sim-s [{elapsed}<{remaining}]")

        def tick() -> None:
            bar.update(min(step_s, stop_s - bar.n))
            if bar.n + step_s <= stop_s:
                runtime.schedule(step_s, tick)

        runtime.schedule(step_s, tick)
        ns.Simulator.Stop(ns.Seconds(stop_s))
        ns.Simulator.Run()
        end = ns.Simulator.Now().GetSeconds()
        bar.close()
        return end

    # -- outputs --------------------------------------------------------------------------
    def finalize_units(self) -> pd.DataFrame:
        from gensemcom.analysis.lpips import lpips_score
        from gensemcom.agents.semantics import decode_edges, render_conditioning

        rows, grid = [], []
        for u in self.units:
            h, w = u.original.shape[:2]
            delivered = _decode_png(u.delivered) if u.delivered is not None else None
            psnr = ms_ssim = lpips = float("nan")
            if delivered is not None and delivered.shape == u.original.shape:
                psnr, ms_ssim = metrics.psnr(u.original, delivered), metrics.ms_ssim(u.original, delivered)
                lpips = lpips_score(u.original, delivered)
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
        packets = trace_sink.write_parquet(self.trace, self.out)
        units.to_parquet(self.out / "units.parquet", index=False)

        plots.image_grid(self._grid, self.out / "grid.png")
        plots.latency_breakdown(units, self.out / "latency.png")
        plots.lte_phy_activity(packets, self.out / "lte_phy.png")

        tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
        ok = units[units["status"].isin(["ok", "degraded"])]
        summary = {
            "name": self.cfg.name, "seed": self.cfg.seed, "results": str(self.out),
            "simulated_s": self.sim_end_s,
            "units": len(units), "status_counts": units["status"].value_counts().to_dict(),
            "mean_latency_s": _nan_none(ok["latency_s"].mean()),
            "mean_psnr_db": _nan_none(ok["psnr_db"].replace(np.inf, np.nan).mean()),
            "mean_ms_ssim": _nan_none(ok["ms_ssim"].mean()),
            "mean_lpips": _nan_none(ok["lpips"].mean()),
            "mean_bpp_total": _nan_none(units["bpp_total"].mean()),
            "lte": {"transport_blocks": int(len(tb)),
                    "harq_retransmissions": int(plots.harq_retransmission(tb).sum()),
                    "tb_decode_failures": int((tb["ok"] == 0).sum()),
                    "distinct_mcs": sorted(int(m) for m in tb["mcs"].unique())} if self.cfg.channel == "lte" else None,
            "network": self.net_info, "wall_s": wall,
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        return summary


def _nan_none(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)


def run(cfg: Config) -> dict:
    """Run one scenario end to end; returns the summary (also written to summary.json)."""
    t0 = time.perf_counter()
    r = Run(cfg)
    (r.out / "config.json").write_text(cfg.model_dump_json(indent=2))
    handler = logging.FileHandler(r.out / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    wall = {}
    try:
        r.spawn_agents()
        runtime.load_ns()  # ~15 s of C++ header parsing, overlapped with the agents' start-up
        wall["ns3_import"] = time.perf_counter() - t0
        r.wait_agents()
        wall["agents_ready"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        r.simulate()
        wall["encode_and_simulate"] = time.perf_counter() - t1
    finally:
        r.stop_agents()
    t2 = time.perf_counter()
    units = r.finalize_units()
    wall["metrics_and_outputs"] = time.perf_counter() - t2
    wall["total"] = time.perf_counter() - t0
    summary = r.write_outputs(units, wall)
    logging.getLogger().removeHandler(handler)
    return summary
