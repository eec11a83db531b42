"""Scenario `meg`: mobile edge generation protocols over ns-3 LTE, one after the other.

Each UE and each edge server has its own agent process (role "meg") running its part of the
split model; every message's bytes cross ns-3 (LTE radio with AMC / HARQ / RLC and fading, EPC,
backhaul) as one semantic unit (unit id = message id); the receiving agent adds the feature
channel's AWGN to what arrived (pyagents/meg.py awgn). The protocol logic is
gensemcom/meg_engine.py; this module wires it to ns-3 and writes the results.

Scenario `meg_sweep` (run_meg_sweep) repeats such runs, one ns-3 simulation after the other in
this process, over the series of the `meg.sweep` section.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import meg as report
from gensemcom.analysis import metrics
from gensemcom.bridge.launcher import AgentProcess
from gensemcom.config import Config, ConfigError, parse_config
from gensemcom.meg_engine import PAYLOAD, TASK, LocalTransport, MegEngine, Msg, bridge_caller
from gensemcom.runner import KILL_ENV, REPO_ROOT, results_dir
from gensemcom.scenarios import lte_meg, runtime, trace_sink

log = logging.getLogger("gensemcom")

PORT = 9200  # + stream id (payload, task)


class Ns3Transport:
    """The engine's transport over ns-3: one SemanticApp per node, a message = one unit."""

    def __init__(self, ns, apps: dict, addresses: dict, call):
        self.ns, self.apps, self.addresses, self._call = ns, apps, addresses, call
        self.engine: MegEngine | None = None
        self.inflight: dict[int, Msg] = {}
        for node, app in apps.items():
            handler = (lambda node: lambda unit: self._on_unit(node, unit))(node)
            runtime.keep_alive(handler)
            app.SetUnitHandler(handler)

    def now(self) -> float:
        return self.ns.Simulator.Now().GetSeconds()

    def schedule(self, delay: float, fn) -> None:
        def safe():
            try:
                fn()
            except Exception:  # noqa: BLE001 - an exception must not unwind into C++
                log.exception("MEG event failed")
        runtime.schedule(max(0.0, delay), safe)

    def send(self, msg: Msg, delay: float) -> None:
        streams = [msg.payload] + ([msg.task] if msg.task else [])
        self.inflight[msg.mid] = msg
        for sid, data in enumerate(streams):
            self.apps[msg.src].SendStream(self.ns.Seconds(max(0.0, delay)), self.addresses[msg.dst], PORT + sid,
                                          msg.mid, sid, len(streams), data)

    def call(self, node, op, header, frames):
        return self._call(node, op, header, frames)

    def stop(self) -> None:
        self.ns.Simulator.Stop()

    def _on_unit(self, node: str, unit: int) -> None:
        app = self.apps[node]
        try:
            msg = self.inflight.pop(unit, None)
            if msg is None or msg.dst != node:
                log.warning("%s received unit %d, which no message to it has: ignored", node, unit)
                return
            msg.t_rx = app.GetUnitReadyTime(unit).GetSeconds()
            ids = [int(s) for s in app.GetStreamIds(unit)]
            msg.complete = bool(app.IsUnitComplete(unit))
            msg.crc_ok = all(bool(app.IsStreamCrcOk(unit, s)) for s in ids)
            got = {s: runtime.vector_bytes(app.GetStreamBytes(unit, s)) for s in ids}
            msg.rx_payload, msg.rx_task = got.get(PAYLOAD, b""), got.get(TASK, b"")
            self.engine.on_message(msg)
        except Exception:  # noqa: BLE001
            log.exception("%s: handling unit %d failed", node, unit)
        finally:
            app.ReleaseUnit(unit)


def _nodes(cfg: Config) -> tuple[list[tuple[str, float]], list[str]]:
    ues = [(f"ue{i}", d) for i, d in enumerate(cfg.meg.ue_distances_m)]
    return ues, [f"es{k}" for k in range(cfg.meg.num_es)]


def _images(cfg: Config) -> list[tuple[str, np.ndarray]]:
    from gensemcom.agents.images import load_image
    return [(n, load_image(n, cfg.images.size)) for n in cfg.images.names * cfg.images.repeat]


def _upper_bound_s(cfg: Config, n_images: int) -> float:
    m = cfg.meg
    per_phase = (n_images - 1) * cfg.images.interval_s + m.request_timeout_s + m.phase_gap_s
    return cfg.images.start_s + len(m.protocols) * per_phase + 1.0


def _simulate(cfg: Config, ns, call, images) -> tuple[MegEngine, float, dict, object]:
    """(engine, simulated end time, network info, the run's SemanticTraceSink)."""
    ns.RngSeedManager.SetSeed(cfg.seed)
    ns.RngSeedManager.SetRun(cfg.seed)
    # Stream numbers from 0 again: a simulation after another one in this process (meg_sweep)
    # draws what it would in a fresh process.
    ns.RngSeedManager.ResetNextStreamIndex()
    trace = trace_sink.create(ns)
    ues, ess = _nodes(cfg)
    net = lte_meg.build(ns, cfg, REPO_ROOT / "build" / "fading", ues, ess)
    trace.ConnectLtePhy()
    apps = {name: runtime.install_semantic_app(
        ns, net.nodes[name], name, segment_bytes=cfg.app.segment_bytes, rate=cfg.app.rate,
        unit_timeout_s=cfg.app.unit_timeout_s, listen_port=PORT, num_ports=2, trace=trace)
        for name in [u for u, _ in ues] + ess}
    transport = Ns3Transport(ns, apps, net.addresses, call)
    engine = MegEngine(cfg.meg, seed=cfg.seed, size=cfg.images.size, ues=[u for u, _ in ues], ess=ess,
                       images=images, start_s=cfg.images.start_s, interval_s=cfg.images.interval_s,
                       transport=transport)
    transport.engine = engine
    engine.start()
    stop_s = _upper_bound_s(cfg, len(images))
    bar = tqdm(total=round(stop_s, 2), desc="ns-3 LTE simulation (MEG)", unit="sim-s",
               bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} sim-s (upper bound) [{elapsed}]")

    def tick() -> None:
        bar.update(min(0.1, stop_s - bar.n))
        runtime.schedule(0.1, tick)

    runtime.schedule(0.1, tick)
    ns.Simulator.Stop(ns.Seconds(stop_s))
    ns.Simulator.Run()
    end = ns.Simulator.Now().GetSeconds()
    bar.close()
    ns.Simulator.Destroy()
    runtime.keep_alive(net)
    runtime.keep_alive(apps)
    if not engine.done:
        log.error("simulation stopped at %.2f s before every protocol had finished", end)
    return engine, end, net.info, trace


def _reference(cfg: Config, call, images, run: MegEngine) -> dict[int, np.ndarray | None]:
    """Every request again with a noiseless channel (LocalTransport: no ns-3), same noise seeds
    and the same picks: the delivered image minus what the channel did to it."""
    ues, ess = _nodes(cfg)
    force = {r.key: r.picked for r in run.requests if r.picked is not None}
    transport = LocalTransport(call)
    ref = MegEngine(cfg.meg, seed=cfg.seed, size=cfg.images.size, ues=[u for u, _ in ues], ess=ess,
                    images=images, start_s=cfg.images.start_s, interval_s=cfg.images.interval_s,
                    transport=transport, snr_db=None, force_pick=force)
    transport.engine = ref
    ref.start()
    transport.run()
    by_key = {r.key: r.result for r in ref.requests if r.status == "ok"}
    return {r.rid: by_key.get(r.key) for r in run.requests}


def _request_rows(cfg: Config, engine: MegEngine, refs: dict) -> pd.DataFrame:
    from gensemcom.analysis.lpips import lpips_score

    rows = []
    delivered = [r.result if r.status == "ok" and r.result is not None and r.result.shape == r.original.shape
                 else None for r in engine.requests]
    # The FID substitute per request and the Inception features FID / KID are computed from.
    cosine, feats, feats_in = report.inception_scores(delivered, [r.original for r in engine.requests])
    for i, r in enumerate(tqdm(engine.requests, desc="metrics (PSNR, LPIPS)", unit="request")):
        psnr = lp = psnr_ref = lp_ref = np.nan
        ok = delivered[i] is not None
        if ok:
            psnr, lp = metrics.psnr(r.original, r.result), lpips_score(r.original, r.result)
            ref = refs.get(r.rid)
            if ref is not None:
                psnr_ref, lp_ref = metrics.psnr(ref, r.result), lpips_score(ref, r.result)
        rows.append({
            "rid": r.rid, "protocol": r.protocol.name, "family": r.protocol.family, "ue": r.ue, "es": ",".join(r.es),
            "image": r.image, "status": r.status, "error": r.error, "snr_db": engine.snr_db,
            "t_request": r.t_request, "t_done": r.t_done, "response_s": r.t_done - r.t_request if ok else np.nan,
            "compute_ue_s": r.compute_s.get(r.ue, 0.0),
            "compute_es_s": sum(v for k, v in r.compute_s.items() if k != r.ue),
            "picked_es": r.picked, "psnr_db": psnr, "lpips": lp, "psnr_ref_db": psnr_ref, "lpips_ref": lp_ref,
            "inception_cosine": cosine[i], report.FEATURES: feats[i], report.FEATURES_INPUT: feats_in[i]})
    return pd.DataFrame(rows)


def _grid(cfg: Config, engine: MegEngine, requests: pd.DataFrame, out) -> None:
    first = [r for r in engine.requests if r.ue_index == 0 and r.image_index == 0]
    if not first:
        return
    q = requests.set_index("rid")
    results = {r.protocol.name: r.result for r in first}
    captions = {r.protocol.name: f"{q.loc[r.rid, 'status']}, {q.loc[r.rid, 'psnr_db']:.1f} dB" for r in first}
    snr = "noiseless" if engine.snr_db is None else f"{engine.snr_db:g} dB"
    report.image_grid(first[0].original, results, captions, out / "grid.png",
                      f"{first[0].image}, '{cfg.meg.prompt}', feature channel SNR {snr}")


def _start_agents(cfg: Config, names: list[str], out) -> dict[str, AgentProcess]:
    a = cfg.agents
    options = {"threads": a.threads, "seed": cfg.seed, "models": {"split": cfg.models.split}}
    return {n: AgentProcess(n, "meg", options, out, timeout_s=a.timeout_s, retries=a.retries,
                            ready_timeout_s=a.ready_timeout_s) for n in names}


def _log_to(out) -> logging.Handler:
    handler = logging.FileHandler(out / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def _messages(engine: MegEngine) -> pd.DataFrame:
    return pd.DataFrame([m.row() for m in engine.messages.values()],
                        columns=list(Msg(0, 0, "", "", "", "", 0, b"").row()))


def run_meg(cfg: Config) -> dict:
    t0 = time.perf_counter()
    out = results_dir(cfg)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    handler = _log_to(out)
    wall: dict[str, float] = {}
    ues, ess = _nodes(cfg)
    agents = _start_agents(cfg, [u for u, _ in ues] + ess, out)
    try:
        ns = runtime.load_ns()  # overlapped with the agents' start-up
        for agent in agents.values():
            log.info("agent %s ready: %s", agent.name, agent.wait_ready())
        for name in filter(None, os.environ.get(KILL_ENV, "").split(",")):
            log.warning("fault injection: killing agent %s", name)
            agents[name].proc.kill()
            agents[name].proc.wait()
        wall["agents_ready"] = time.perf_counter() - t0
        images = _images(cfg)
        call = bridge_caller(agents)
        t1 = time.perf_counter()
        engine, sim_end, net_info, trace = _simulate(cfg, ns, call, images)
        wall["simulate"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        refs = _reference(cfg, call, images, engine) if cfg.meg.reference else {}
        wall["reference"] = time.perf_counter() - t1
    finally:
        for agent in agents.values():
            agent.stop()
    packets = trace_sink.write_parquet(trace, out)
    messages = _messages(engine)
    requests = _request_rows(cfg, engine, refs)
    table = report.overhead(messages, packets, requests)
    quality = report.per_protocol(requests)
    messages.to_parquet(out / "messages.parquet", index=False)
    requests.to_parquet(out / "requests.parquet", index=False)
    table.to_parquet(out / "overhead.parquet", index=False)
    quality.to_parquet(out / "protocols.parquet", index=False)
    md = report.markdown(table, quality)
    (out / "overhead.md").write_text(md + "\n")
    report.figure(table, quality, requests, out / "meg.png")
    _grid(cfg, engine, requests, out)
    wall["total"] = time.perf_counter() - t0
    summary = {
        "name": cfg.name, "seed": cfg.seed, "results": str(out), "simulated_s": sim_end,
        "protocols": cfg.meg.protocols, "ues": len(ues), "edge_servers": len(ess), "snr_db": cfg.meg.snr_db,
        "latent_format": cfg.meg.latent_format, "image_format": cfg.meg.image_format,
        "requests": len(requests), "status_counts": requests["status"].value_counts().to_dict(),
        "overhead": json.loads(table.to_json(orient="records")),
        "per_protocol": json.loads(quality.to_json(orient="records")),
        "quality_notes": [report.SUBSTITUTE_NOTE, report.fid_note()],
        "network": net_info, "wall_s": wall, "markdown": md,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    logging.getLogger().removeHandler(handler)
    return summary


# -- scenario meg_sweep ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    series: str      # "ues" (response vs UEs), "ess" (response vs ESs), "snr" (quality vs SNR)
    x: float         # the swept value: UEs, ESs or SNR (dB)
    cfg: Config      # the scenario-meg run of this point

    @property
    def label(self) -> str:
        return f"{self.series}_{self.x:g}"


def sweep_points(cfg: Config) -> list[SweepPoint]:
    """The sweep as scenario-meg configs, one per point, validated like a `meg` config."""
    s, m = cfg.meg.sweep, cfg.meg
    base = cfg.model_dump()
    d = m.ue_distances_m

    def point(series, x, protocols, ues, ess, snr, reference) -> SweepPoint:
        data = json.loads(json.dumps(base))  # a deep copy of plain data
        data["scenario"] = "meg"
        data["meg"].update(protocols=list(protocols), ue_distances_m=[d[i % len(d)] for i in range(ues)],
                           num_es=ess, snr_db=snr, reference=reference)
        try:
            return SweepPoint(series, float(x), parse_config(data))
        except ConfigError as exc:
            raise ConfigError(f"meg.sweep point {series}={x:g}:\n{exc}") from None

    # The response series skip the noiseless reference run: only the SNR series scores quality.
    points = [point("ues", n, s.ue_protocols, n, s.ue_num_es, m.snr_db, False)
              for n in s.ue_counts if s.ue_protocols]
    points += [point("ess", k, s.es_protocols, 1, k, m.snr_db, False) for k in s.es_counts if s.es_protocols]
    points += [point("snr", snr, s.snr_protocols, 1, s.snr_num_es, snr, m.reference)
               for snr in s.snr_db if s.snr_protocols]
    return points


def _sweep_agents(cfg: Config, points: list[SweepPoint], out) -> tuple[dict, dict]:
    """One agent process for the UE side and one for the ES side, shared by all nodes of that
    side in every point: the engine calls agents one at a time and the fixed compute model
    charges simulated time from each op's work, so which process computes changes nothing in
    the results, and the sweep loads the model twice instead of once per node and point."""
    procs = _start_agents(cfg, ["ue", "es"], out)
    most_ues = max(len(p.cfg.meg.ue_distances_m) for p in points)
    most_ess = max(p.cfg.meg.num_es for p in points)
    nodes = {f"ue{i}": procs["ue"] for i in range(most_ues)} | {f"es{k}": procs["es"] for k in range(most_ess)}
    return procs, nodes


def _grid_rows(pt: SweepPoint, engine: MegEngine, requests: pd.DataFrame, refs: dict) -> list[dict]:
    """The first image of ue0 per protocol as delivered (and, once, the input and the noiseless
    reference), PNG-encoded, for the Fig. 5-like grid."""
    q = requests.set_index("rid")
    rows = []
    for r in (r for r in engine.requests if r.ue_index == 0 and r.image_index == 0):
        rows.append({"protocol": r.protocol.name, "column": f"{pt.x:g} dB", "snr_db": pt.x,
                     "status": r.status, "psnr_db": q.loc[r.rid, "psnr_db"], "lpips": q.loc[r.rid, "lpips"],
                     "png": report.png_bytes(r.result)})
        ref = refs.get(r.rid)
        rows.append({"protocol": r.protocol.name, "column": "noiseless", "snr_db": np.nan,
                     "status": "ok" if ref is not None else "missing", "psnr_db": np.nan, "lpips": np.nan,
                     "png": report.png_bytes(ref)})
        rows.append({"protocol": "input", "column": "input", "snr_db": np.nan, "status": "ok",
                     "psnr_db": np.nan, "lpips": np.nan, "png": report.png_bytes(r.original)})
    return rows


def run_meg_sweep(cfg: Config) -> dict:
    t0 = time.perf_counter()
    points = sweep_points(cfg)
    out = results_dir(cfg)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    handler = _log_to(out)
    procs, nodes = _sweep_agents(cfg, points, out)
    requests, overheads, grid = [], [], []
    ref_cache: dict = {}
    wall: dict[str, float] = {}
    try:
        ns = runtime.load_ns()  # overlapped with the agents' start-up
        for agent in procs.values():
            log.info("agent %s ready: %s", agent.name, agent.wait_ready())
        wall["agents_ready"] = time.perf_counter() - t0
        call = bridge_caller(nodes)
        for pt in tqdm(points, desc="MEG sweep points (ns-3 runs)", unit="point"):
            t1 = time.perf_counter()
            point_out = out / "points" / pt.label
            point_out.mkdir(parents=True)
            images = _images(pt.cfg)
            engine, sim_end, _, trace = _simulate(pt.cfg, ns, call, images)
            refs = {}
            if pt.cfg.meg.reference:
                # With the 'closest' pick rule the noiseless run does not depend on the noisy
                # one (same requests, same rids): one per series is enough.
                key = pt.series if pt.cfg.meg.pick == "closest" else pt.label
                if key not in ref_cache:
                    ref_cache[key] = _reference(pt.cfg, call, images, engine)
                refs = ref_cache[key]
            packets = trace_sink.write_parquet(trace, point_out)
            messages = _messages(engine)
            messages.to_parquet(point_out / "messages.parquet", index=False)
            req = _request_rows(pt.cfg, engine, refs)
            where = {"series": pt.series, "x": pt.x, "point": pt.label, "ues": len(pt.cfg.meg.ue_distances_m),
                     "num_es": pt.cfg.meg.num_es}
            overheads.append(report.overhead(messages, packets, req).assign(**where))
            requests.append(req.assign(**where, simulated_s=sim_end))
            if pt.series == "snr":
                grid += _grid_rows(pt, engine, req, refs)
            wall[pt.label] = time.perf_counter() - t1
    finally:
        for agent in procs.values():
            agent.stop()
    requests = pd.concat(requests, ignore_index=True)
    overhead = pd.concat(overheads, ignore_index=True)
    response, quality = report.response_table(requests), report.quality_table(requests)
    # The input and noiseless cells are the same at every SNR point: keep the first.
    grid = pd.DataFrame(grid).drop_duplicates(["protocol", "column"]) if grid else pd.DataFrame()
    for name, frame in (("requests", requests), ("overhead", overhead), ("response", response),
                        ("quality", quality), ("grid", grid)):
        frame.to_parquet(out / f"{name}.parquet", index=False)
    report.response_figure(response, out / "response.png")
    report.quality_figure(quality, out / "quality.png")
    if not grid.empty:
        report.grid_figure(grid, out / "grid.png", f"{cfg.images.names[0]}, '{cfg.meg.prompt}': delivered "
                                                   f"image per protocol and feature-channel SNR")
    md = report.sweep_markdown(response, quality)
    (out / "sweep.md").write_text(md + "\n")
    wall["total"] = time.perf_counter() - t0
    summary = {
        "name": cfg.name, "seed": cfg.seed, "results": str(out), "points": [p.label for p in points],
        "requests": len(requests), "status_counts": requests["status"].value_counts().to_dict(),
        "response": json.loads(response.to_json(orient="records")),
        "quality": json.loads(quality.to_json(orient="records")),
        "quality_notes": [report.SUBSTITUTE_NOTE, report.fid_note()], "wall_s": wall, "markdown": md,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    logging.getLogger().removeHandler(handler)
    return summary
