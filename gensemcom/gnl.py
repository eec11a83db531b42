"""Scenarios `gnl_fig1` / `gnl_flow`: the generative network layer in ns-3, with measured flows.

The topology is the paper's Fig. 1 (s - r - d, s - g - d) or any graph of section gnl (relays,
several GenAI nodes). The generative flow LP (analysis.generative_flow, Eq. 2-3) gives, for the
measured prompt size L_p, each GenAI node's prompt rate lambda_g and the flow of prompts,
generated data and, on the capacity left, classical data on every link; each flow is split into
paths and every path becomes a paced sender with host routes pinned along it. s sends latent
prompts (the codec's bitstream), each GenAI node generates each image with the generator agent
and sends it raw (L = 24 bpp) to d, and s streams original images to d on the classical paths.
Prompting (gnl.prompting):
  explicit  the latent prompt; with gnl.ps_gamma > 0 PS (pixel swapping): a second stream carries
            a fraction gamma of the original pixels, swapped into the generated image at g
            (L_c = L_p + gamma L + the PS header);
  hybrid    the latent + the original reduced by gnl.hybrid_factor (second stream); g replaces
            the low-pass band of the generated image with it (agents.hybrid);
  implicit  camera pans, frame by frame: s sends frame i raw iff i % k == 0 (L_p = 24/k bpp);
            at each frame's deadline g forwards it if it has arrived, else predicts it from the
            frames received before it (agents.implicit: global-motion extrapolation, a simple
            predictor run in this process, not a generative video model).
Packet losses on the links into the GenAI nodes (gnl.prompt_loss_rate) leave prompts incomplete.
d measures the distortion of what arrives. The flows are measured from the packet
trace and G_flow (Eq. 3) is compared with the analysis. Capacities are payload rates: each
link's rate adds the per-packet header overhead. One generator agent serves every GenAI node
(they run the same model); each node has its own simulated compute queue.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from gensemcom.agents import hybrid, implicit, pixel_swap
from gensemcom.agents.images import load_image
from gensemcom.analysis import generative_flow as gf
from gensemcom.analysis import metrics
from gensemcom.bridge import schema
from gensemcom.config import Config, GnlConfig
from gensemcom.runner import results_dir, start_agent_processes
from gensemcom.scenarios import p2p_graph, runtime, trace_sink

log = logging.getLogger("gensemcom")

PORT = 9000
RAW_BPP = 24.0
ORIGINAL_UNIT_BASE = 1_000_000   # unit ids of the original data sent on the classical paths
LOWER_HEADERS = 8 + 20 + 2        # UDP + IPv4 + PPP header bytes per packet
MIN_PATH_SHARE = 1e-6             # paths carrying less than this share of their flow are solver noise


@dataclass
class Route:
    kind: str                    # "prompt", "generated" or "classical"
    path: list
    flow: float                  # bpp per period
    pace: float = 0.0            # bpp per period the sender paces at: its share of every edge on the path
    app: object = None
    dst: object = None
    sent: int = 0                # units sent on it so far

    @property
    def label(self) -> str:
        return f"{self.path[0]}>{self.path[-1]}:{'-'.join(self.path[1:-1]) or 'direct'}:{self.kind}"


def topology(g: GnlConfig) -> nx.DiGraph:
    """The configured graph, capacities in bpp per period, every edge with its delay."""
    if g.edges is None:
        graph = gf.fig1_graph(g.c_sr, g.c_rd, g.c_sg, g.c_gd)
        nx.set_edge_attributes(graph, g.delay_ms, "delay_ms")
        return graph
    graph = nx.DiGraph()
    for e in g.edges:
        graph.add_edge(e.u, e.v, capacity=e.capacity, delay_ms=g.delay_ms if e.delay_ms is None else e.delay_ms)
    return graph


def plan_routes(graph: nx.DiGraph, genai: list, prompt_bpp: float) -> tuple[gf.GenerativeFlow, float, list[Route]]:
    """The LP's flows for this prompt size as paths, each with its pacing rate."""
    flow = gf.generative_flow_lp(graph, "s", "d", genai, RAW_BPP, prompt_bpp, tidy=True)
    used = {e: p + q for e, (p, q) in flow.edge_flows.items()}
    classical, classical_edges = gf.residual_classical_flow(graph, "s", "d", used)
    absorbed, generated = flow.prompt_rate, flow.generated_rate
    routes = [Route("prompt", p, a) for p, a in gf.decompose_paths(
        {e: p for e, (p, _) in flow.edge_flows.items()}, {"s": sum(absorbed.values())}, absorbed)]
    routes += [Route("generated", p, a) for p, a in gf.decompose_paths(
        {e: q for e, (_, q) in flow.edge_flows.items()}, generated, {"d": sum(generated.values())})]
    routes += [Route("classical", p, a) for p, a in gf.decompose_paths(classical_edges, {"s": classical}, {"d": classical})]
    biggest = max([r.flow for r in routes], default=0.0)
    routes = [r for r in routes if r.flow > MIN_PATH_SHARE * biggest]
    load: dict = {}
    for r in routes:
        for e in zip(r.path, r.path[1:]):
            load[e] = load.get(e, 0.0) + r.flow
    for r in routes:  # the share of each edge in proportion to the flows on it (>= r.flow)
        r.pace = min(graph.edges[e]["capacity"] * r.flow / load[e] for e in zip(r.path, r.path[1:]))
    return flow, classical, routes


def _smooth_wrr(weights: list[float], n: int) -> list[int]:
    """n picks from len(weights) choices in proportion to the weights, evenly interleaved."""
    current, total, picks = [0.0] * len(weights), sum(weights), []
    for _ in range(n):
        current = [c + w for c, w in zip(current, weights)]
        k = int(np.argmax(current))
        current[k] -= total
        picks.append(k)
    return picks


def _unit_rate_bits(events: pd.DataFrame, warmup: int) -> tuple[float, float, float]:
    """Rate of a periodic unit flow from its completions: bytes of units warmup+1..n over the
    time from completion warmup to n. Returns (bit/s, window start, window end)."""
    done = events.sort_values("time_s")
    if len(done) < warmup + 2:
        raise RuntimeError(f"only {len(done)} units completed: too few to measure a rate (warm-up {warmup}); "
                           "raise images.repeat")
    window = done.iloc[warmup:]
    t0, t1 = window["time_s"].iloc[0], window["time_s"].iloc[-1]
    return 8.0 * window["bytes"].iloc[1:].sum() / (t1 - t0), t0, t1


def _packet_rate_bits(times: pd.Series, payload_bytes: pd.Series) -> float:
    """Rate of a packet stream from its own first and last packet: a window that starts and ends
    between packets would count one packet more or less, and a low-rate packet is a large part
    of a few seconds' flow."""
    if len(times) < 2:
        return 0.0
    order = np.argsort(times.to_numpy(), kind="stable")
    t, b = times.to_numpy()[order], payload_bytes.to_numpy()[order]
    return 8.0 * b[1:].sum() / (t[-1] - t[0]) if t[-1] > t[0] else 0.0


@dataclass
class Workload:
    originals: list        # per unit: what d should receive (uint8 HxWx3)
    prompts: list          # per unit: the streams s sends ([] = omitted: implicit prompting)
    sequence: list         # per unit: (sequence, index in it); one sequence per image unless implicit


def _workload(cfg: Config, agents: dict) -> Workload:
    g, im = cfg.gnl, cfg.images
    names = im.names * im.repeat
    if g.prompting == "implicit":
        originals, prompts, sequence = [], [], []
        for seq, name in enumerate(names):
            frames = implicit.image_pan(name, g.implicit_frames, im.size, tuple(g.implicit_step))
            sent = implicit.keep_every_mask(len(frames), g.implicit_keep_every)
            originals += list(frames)
            prompts += [[f.tobytes()] if ok else [] for f, ok in zip(frames, sent)]
            sequence += [(seq, i) for i in range(len(frames))]
        return Workload(originals, prompts, sequence)
    images = [load_image(n, im.size) for n in names]
    prompts = []
    for k, img in enumerate(images):
        answer = agents["encoder"].client.call(schema.request("encode", [img.tobytes()], h=im.size, w=im.size, streams=["latent"]))
        streams = [dict(zip(answer.header["streams"], answer.frames))["latent"]]
        if g.ps_gamma > 0:
            streams.append(pixel_swap.encode_swap(img, g.ps_gamma, cfg.seed * 1_000_003 + k))
        if g.prompting == "hybrid":
            streams.append(hybrid.encode_reduced(img, g.hybrid_factor))
        prompts.append(streams)
    return Workload(images, prompts, [(k, 0) for k in range(len(images))])


def _lossy_genai_links(ns, net, genai: list, rate: float) -> None:
    """A packet RateErrorModel on every device that receives into a GenAI node."""
    for (u, v), (dev_u, dev_v) in net.links.items():
        for node, device in ((v, dev_v), (u, dev_u)):
            if node in genai:
                em = ns.CreateObject[ns.RateErrorModel]()
                em.SetAttribute("ErrorRate", ns.DoubleValue(rate))
                em.SetAttribute("ErrorUnit", ns.StringValue("ERROR_UNIT_PACKET"))
                device.SetAttribute("ReceiveErrorModel", ns.PointerValue(em))
                net.keep.append(em)


def run_gnl(cfg: Config) -> dict:
    g, im = cfg.gnl, cfg.images
    out = results_dir(cfg)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    pixels = im.size * im.size
    bps_per_bpp = pixels / g.period_s
    seg = cfg.app.segment_bytes
    graph = topology(g)
    genai = list(g.genai_nodes)

    agents = start_agent_processes(cfg, out, streams=["latent"])  # latent prompts only
    try:
        ns = runtime.load_ns()
        for agent in agents.values():
            agent.wait_ready()
        work = _workload(cfg, agents)
        n_units = len(work.prompts)
        prompt_bpp = float(np.mean([8 * sum(map(len, p)) for p in work.prompts])) / pixels
        flow, classical, routes = plan_routes(graph, genai, prompt_bpp)
        if flow.divergence <= 0:
            raise ValueError(f"the GenAI nodes {genai} can carry no generative flow in this topology "
                             f"(L_p = {prompt_bpp:.3f} bpp): nothing to measure")

        nsg = ns.cppyy.gbl.ns3
        ns.RngSeedManager.SetSeed(cfg.seed)
        ns.RngSeedManager.SetRun(cfg.seed)
        trace = trace_sink.create(ns)
        header = nsg.SemanticHeader.kSize
        link_rate = lambda c: c * bps_per_bpp * (seg + header + LOWER_HEADERS) / seg  # noqa: E731
        wire = graph.copy()
        for u, v in wire.edges:
            wire.edges[u, v]["capacity"] = link_rate(graph.edges[u, v]["capacity"])
        net = p2p_graph.build(ns, wire, trace=trace)
        if g.prompt_loss_rate > 0:
            _lossy_genai_links(ns, net, genai, g.prompt_loss_rate)
        timeout = cfg.app.unit_timeout_s + 10 * g.period_s / max(flow.prompt_rate.values()) * prompt_bpp

        def app(node: str, label: str, rate_bps: float, listen: int = 0):
            return runtime.install_semantic_app(ns, net.nodes[node], label, segment_bytes=seg, rate=rate_bps,
                                                unit_timeout_s=timeout, listen_port=listen, trace=trace)

        for r in routes:  # a sender per path, host routes to the address of the path's last link
            r.dst = net.pin_path(ns, r.path, net.address_on(r.path[-2], r.path[-1]))
            r.app = app(r.path[0], r.label, link_rate(r.pace))
        receivers = {n: app(n, n, 1e9, PORT) for n in [*genai, "d"]}
        prompt_routes = [r for r in routes if r.kind == "prompt"]
        gen_routes = {n: [r for r in routes if r.kind == "generated" and r.path[0] == n] for n in genai}
        genai_of, slot = {}, {}  # unit -> its GenAI node, its send time at s
        start = im.start_s
        for k, pick in enumerate(_smooth_wrr([r.flow for r in prompt_routes], n_units)):
            r = prompt_routes[pick]
            slot[k] = start + r.sent * prompt_bpp / r.flow * g.period_s / g.rate_factor  # this path's units at lambda_p
            r.sent += 1
            genai_of[k] = r.path[-1]
            for sid, stream in enumerate(work.prompts[k]):
                r.app.SendStream(ns.Seconds(slot[k]), r.dst, PORT, k, sid, len(work.prompts[k]), stream)
        duration = max(r.sent * prompt_bpp / r.flow for r in prompt_routes) * g.period_s / g.rate_factor
        original = ORIGINAL_UNIT_BASE
        for r in (r for r in routes if r.kind == "classical"):  # a backlog for the whole run
            for _ in range(math.ceil(duration * r.flow * bps_per_bpp / (RAW_BPP * pixels)) + 1):
                r.app.SendStream(ns.Seconds(start), r.dst, PORT, original, 0, 1,
                                 work.originals[(original - ORIGINAL_UNIT_BASE) % n_units].tobytes())
                original += 1

        busy_until = {n: 0.0 for n in genai}
        picks = {n: iter(_smooth_wrr([r.flow for r in gen_routes[n]], n_units)) for n in genai}
        outcome = {}  # unit -> how g made it: generated / received / predicted / failed

        def send_generated(node: str, unit: int, data: bytes, compute_s: float) -> None:
            now = ns.Simulator.Now().GetSeconds()
            busy_until[node] = max(now, busy_until[node]) + compute_s
            r = gen_routes[node][next(picks[node])]
            r.app.SendStream(ns.Seconds(busy_until[node] - now), r.dst, PORT, unit, 0, 1, data)

        def on_prompt(node: str, unit: int) -> None:
            rx = receivers[node]
            try:
                frames = [runtime.vector_bytes(rx.GetStreamBytes(unit, 0))]
                answer = agents["generator"].client.call(schema.request(
                    "generate", frames, unit=unit, streams=["latent"], complete=[bool(rx.IsUnitComplete(unit))],
                    crc_ok=[bool(rx.IsStreamCrcOk(unit, 0))], h=im.size, w=im.size, format="raw"))
                generated = answer.frames[0]
                if len(work.prompts[unit]) > 1:  # PS / hybrid: the second stream joins in (a damaged payload raises)
                    image = np.frombuffer(generated, np.uint8).reshape(im.size, im.size, 3)
                    extra = runtime.vector_bytes(rx.GetStreamBytes(unit, 1))
                    join = pixel_swap.apply_swap if g.ps_gamma > 0 else hybrid.combine
                    generated = join(image, extra).tobytes()
                send_generated(node, unit, generated, cfg.compute.generate_s)
                outcome[unit] = "generated"
            except Exception:  # noqa: BLE001 - the unit goes missing at d; the run goes on
                log.exception("GenAI node %s: unit %d not generated", node, unit)
                outcome[unit] = "failed"
            finally:
                rx.ReleaseUnit(unit)

        received = {}  # implicit: unit -> (frame, arrival time) of every frame that arrived intact

        def on_frame(node: str, unit: int) -> None:
            rx = receivers[node]
            if rx.IsUnitComplete(unit) and rx.IsStreamCrcOk(unit, 0):
                data = runtime.vector_bytes(rx.GetStreamBytes(unit, 0))
                if len(data) == pixels * 3:
                    received[unit] = (np.frombuffer(data, np.uint8).reshape(im.size, im.size, 3), ns.Simulator.Now())
            rx.ReleaseUnit(unit)

        def at_deadline(node: str, unit: int) -> None:
            """Frame `unit` is due: forward it if it arrived, else predict it from the frames of its
            pan received so far (never from predicted ones)."""
            seq, index = work.sequence[unit]
            if unit in received:
                send_generated(node, unit, received[unit][0].tobytes(), 0.0)
                outcome[unit] = "received"
                return
            history = [(work.sequence[u][1], frame) for u, (frame, _) in received.items() if work.sequence[u][0] == seq]
            try:
                send_generated(node, unit, implicit.predict(history, index).tobytes(), cfg.compute.generate_s)
                outcome[unit] = "predicted"
            except ValueError as exc:  # nothing received yet in this pan
                log.warning("GenAI node %s: frame %d of pan %d not predicted: %s", node, index, seq, exc)
                outcome[unit] = "failed"

        distortion = {}  # unit -> normalised MSE of what d received

        def on_dest(unit: int) -> None:
            dest = receivers["d"]
            if unit < ORIGINAL_UNIT_BASE and dest.IsUnitComplete(unit):
                got = np.frombuffer(runtime.vector_bytes(dest.GetStreamBytes(unit, 0)), np.uint8)
                if got.size == pixels * 3:
                    distortion[unit] = metrics.normalised_mse(work.originals[unit], got.reshape(im.size, im.size, 3))
            dest.ReleaseUnit(unit)

        on_genai = on_frame if g.prompting == "implicit" else on_prompt
        handlers = [(receivers[n], (lambda unit, n=n: on_genai(n, unit))) for n in genai] + [(receivers["d"], on_dest)]
        for rx, handler in handlers:
            runtime.keep_alive(handler)
            rx.SetUnitHandler(handler)
        deadline_s = g.implicit_deadline_periods * g.period_s
        if g.prompting == "implicit":
            for unit in range(n_units):
                runtime.schedule(slot[unit] + deadline_s, lambda unit=unit: at_deadline(genai_of[unit], unit))
        ns.Simulator.Stop(ns.Seconds(start + duration + cfg.sim.drain_s + 2 * cfg.compute.generate_s
                                     + (deadline_s if g.prompting == "implicit" else 0.0)))
        ns.Simulator.Run()
        ns.Simulator.Destroy()
        runtime.keep_alive(net)
    finally:
        for agent in agents.values():
            agent.stop()

    packets = trace_sink.write_parquet(trace, out)
    measured, window, delivered = _measure(packets, genai, genai_of, header, g.warmup_units, bps_per_bpp)
    expected = {**{f"prompt[{n}]": flow.prompt_rate[n] for n in genai},
                **{f"generated[{n}]": flow.generated_rate[n] for n in genai},
                **{f"y[{n}]": flow.generated_rate[n] - flow.prompt_rate[n] for n in genai},
                "y": flow.divergence, "flow_gain": flow.flow_gain, "classical": classical,
                "delivered": classical + sum(flow.generated_rate.values())}
    measured["flow_gain"] = 1.0 + measured["y"] / flow.classical_max_flow
    flows = pd.DataFrame([{"quantity": k, "analytic": expected[k], "measured": measured[k]} for k in expected])
    flows["relative_error"] = (flows["measured"] - flows["analytic"]) / flows["analytic"]
    flows.to_csv(out / "flows.csv", index=False)
    edges = _edge_table(graph, flow, routes, packets, window, header, bps_per_bpp)
    edges.to_csv(out / "edges.csv", index=False)
    units = pd.DataFrame([{"unit": u, "sequence": work.sequence[u][0], "index": work.sequence[u][1],
                           "genai": genai_of[u], "sent": bool(work.prompts[u]), "outcome": outcome.get(u, "missing"),
                           "normalised_mse": distortion.get(u, np.nan)} for u in range(n_units)])
    units.to_csv(out / "units.csv", index=False)
    by_outcome = units.groupby("outcome")["normalised_mse"].agg(["count", "mean"])
    summary = {"name": cfg.name, "results": str(out), "units": n_units, "prompting": g.prompting,
               "prompt_bpp": prompt_bpp, "data_bpp": RAW_BPP, "genai_nodes": genai,
               "f_sd_classical": flow.classical_max_flow,
               "lambda_per_period": {n: flow.prompt_rate[n] / prompt_bpp * g.rate_factor for n in genai},
               "window_s": list(window), "routes": [{"kind": r.kind, "path": r.path, "flow": r.flow, "pace": r.pace}
                                                    for r in routes],
               "generated_units_delivered": delivered, "ps_gamma": g.ps_gamma,
               "delivered_normalised_mse": float(np.mean(list(distortion.values()))) if distortion else None,
               "outcomes": {k: {"units": int(v["count"]), "normalised_mse": float(v["mean"])} for k, v in by_outcome.iterrows()},
               "flows_in_bpp_per_period": flows.to_dict("records")}
    if g.edges is None:  # Fig. 1: the LP against the closed form of Eq. (4)
        summary["fig1_closed_form"] = gf.fig1_closed_form(g.c_sr, g.c_rd, g.c_sg, g.c_gd, RAW_BPP, prompt_bpp)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary


def _measure(packets: pd.DataFrame, genai: list, genai_of: dict, header: int, warmup: int, bps_per_bpp: float):
    """Measured flows in bpp per period: each GenAI node's prompt and generated rates from its
    units' completions, classical data at d over the window where every generated flow runs."""
    rx = packets[packets["event"] == "stream_rx"]
    measured, windows = {}, []
    generated_at_d = rx[(rx["node"] == "d") & (rx["unit"] < ORIGINAL_UNIT_BASE)]
    for n in genai:
        prompt_bits, _, _ = _unit_rate_bits(rx[rx["node"] == n], warmup)
        mine = generated_at_d[generated_at_d["unit"].map(genai_of) == n]
        gen_bits, t0, t1 = _unit_rate_bits(mine, warmup)
        windows.append((t0, t1))
        measured[f"prompt[{n}]"] = prompt_bits / bps_per_bpp
        measured[f"generated[{n}]"] = gen_bits / bps_per_bpp
        measured[f"y[{n}]"] = measured[f"generated[{n}]"] - measured[f"prompt[{n}]"]
    measured["y"] = sum(measured[f"y[{n}]"] for n in genai)
    t0, t1 = max(w[0] for w in windows), min(w[1] for w in windows)
    if t1 <= t0:
        raise RuntimeError("the generated flows of the GenAI nodes never run at the same time: raise images.repeat")
    orig = packets[(packets["event"] == "rx") & (packets["node"] == "d") & (packets["unit"] >= ORIGINAL_UNIT_BASE)
                   & (packets["time_s"] > t0) & (packets["time_s"] <= t1)]
    measured["classical"] = _packet_rate_bits(orig["time_s"], orig["bytes"] - header) / bps_per_bpp
    measured["delivered"] = measured["classical"] + sum(measured[f"generated[{n}]"] for n in genai)
    return measured, (t0, t1), int(len(generated_at_d))


def _edge_table(graph, flow, routes, packets, window, header, bps_per_bpp) -> pd.DataFrame:
    """Per edge: capacity, the analytic prompt / generated / classical flows and the payload
    rate measured on it (packets sent by the edge's tail towards its head, over the window)."""
    t0, t1 = window
    classical = {}
    for r in routes:
        if r.kind == "classical":
            for e in zip(r.path, r.path[1:]):
                classical[e] = classical.get(e, 0.0) + r.flow
    hops = packets[(packets["event"] == "link_tx") & (packets["time_s"] > t0) & (packets["time_s"] <= t1)]
    rows = []
    for u, v, data in graph.edges(data=True):
        p, q = (max(0.0, f) for f in flow.edge_flows[(u, v)])  # the LP's -0.0
        row = {"u": u, "v": v, "capacity": data["capacity"], "prompt_flow": p, "generated_flow": q,
               "classical_flow": classical.get((u, v), 0.0)}
        row["analytic_flow"] = p + q + row["classical_flow"]
        frames = hops[hops["node"] == f"{u}>{v}"]
        row["measured_flow"] = _packet_rate_bits(frames["time_s"], frames["bytes"] - LOWER_HEADERS - header) / bps_per_bpp
        rows.append(row)
    return pd.DataFrame(rows)
