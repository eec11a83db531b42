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

import logging
import math
from pathlib import Path
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from gensemcom.agents import hybrid, implicit, pixel_swap
from gensemcom.agents.images import load_image
from gensemcom.analysis import generative_flow as gf
from gensemcom.analysis import metrics
from gensemcom.bridge import schema
from gensemcom.channels import p2p_graph
from gensemcom.constants import P2P_LOWER_HEADER_BYTES, RAW_RGB_BPP, UNIT_PORT
from gensemcom.core import ns3, packet_trace
from gensemcom.core.agent_set import AgentSet, semantic_unit_agents
from gensemcom.core.records import write_summary

from .measured_flows import ORIGINAL_UNIT_BASE, edge_table, measure_flows
from .routes import Route, plan_routes, smooth_wrr, topology

log = logging.getLogger("gensemcom")

PORT = UNIT_PORT
RAW_BPP = RAW_RGB_BPP
LOWER_HEADERS = P2P_LOWER_HEADER_BYTES  # UDP + IPv4 + PPP header bytes per packet


@dataclass
class Workload:
    originals: list        # per unit: what d should receive (uint8 HxWx3)
    prompts: list          # per unit: the streams s sends ([] = omitted: implicit prompting)
    sequence: list         # per unit: (sequence, index in it); one sequence per image unless implicit


def _workload(cfg, agents) -> Workload:
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


class FlowRun:
    """One GNL simulation: the point-to-point network of the topology with paced senders on the
    planned paths, the GenAI nodes (generate, or for implicit prompting forward / predict at each
    frame's deadline) and the destination, which scores what arrives."""

    def __init__(self, cfg, ns, trace, agents: AgentSet, work: Workload, flow, routes: list[Route], prompt_bpp: float):
        self.cfg, self.ns, self.trace, self.agents, self.work = cfg, ns, trace, agents, work
        self.flow, self.routes, self.prompt_bpp = flow, routes, prompt_bpp
        g, im = cfg.gnl, cfg.images
        self.genai = list(g.genai_nodes)
        self.size, self.pixels = im.size, im.size * im.size
        self.bps_per_bpp = self.pixels / g.period_s
        self.header = ns.cppyy.gbl.ns3.SemanticHeader.kSize
        self.n_units = len(work.prompts)
        self.genai_of: dict[int, str] = {}   # unit -> its GenAI node
        self.slot: dict[int, float] = {}     # unit -> its send time at s
        self.outcome: dict[int, str] = {}    # unit -> how g made it: generated / received / predicted / failed
        self.received: dict = {}             # implicit: unit -> (frame, arrival) of each frame that arrived intact
        self.distortion: dict[int, float] = {}  # unit -> normalised MSE of what d received
        self.busy_until = {n: 0.0 for n in self.genai}

    def link_rate(self, capacity_bpp: float) -> float:
        """A link's bit rate for a payload capacity: the per-packet headers on top."""
        seg = self.cfg.app.segment_bytes
        return capacity_bpp * self.bps_per_bpp * (seg + self.header + LOWER_HEADERS) / seg

    def build(self, graph: nx.DiGraph) -> None:
        """The links, a paced sender per path (host routes pinned to the address of the path's
        last link), and a receiver at every GenAI node and at d."""
        ns, g = self.ns, self.cfg.gnl
        wire = graph.copy()
        for u, v in wire.edges:
            wire.edges[u, v]["capacity"] = self.link_rate(graph.edges[u, v]["capacity"])
        self.net = p2p_graph.build(ns, wire, trace=self.trace)
        if g.prompt_loss_rate > 0:
            _lossy_genai_links(ns, self.net, self.genai, g.prompt_loss_rate)
        timeout = self.cfg.app.unit_timeout_s + 10 * g.period_s / max(self.flow.prompt_rate.values()) * self.prompt_bpp

        def app(node: str, label: str, rate_bps: float, listen: int = 0):
            return ns3.install_semantic_app(ns, self.net.nodes[node], label, segment_bytes=self.cfg.app.segment_bytes,
                                            rate=rate_bps, unit_timeout_s=timeout, listen_port=listen,
                                            trace=self.trace)

        for r in self.routes:
            r.dst = self.net.pin_path(ns, r.path, self.net.address_on(r.path[-2], r.path[-1]))
            r.app = app(r.path[0], r.label, self.link_rate(r.pace))
        self.receivers = {n: app(n, n, 1e9, PORT) for n in [*self.genai, "d"]}
        self.gen_routes = {n: [r for r in self.routes if r.kind == "generated" and r.path[0] == n] for n in self.genai}
        self.picks = {n: iter(smooth_wrr([r.flow for r in self.gen_routes[n]], self.n_units)) for n in self.genai}

    def send_prompts(self) -> None:
        """Each unit's prompt on a prompt path (weighted round robin over the paths' flows), each
        path's units at its share of lambda_g; then a backlog of originals on the classical paths."""
        ns, g, work = self.ns, self.cfg.gnl, self.work
        prompt_routes = [r for r in self.routes if r.kind == "prompt"]
        start = self.cfg.images.start_s
        for k, pick in enumerate(smooth_wrr([r.flow for r in prompt_routes], self.n_units)):
            r = prompt_routes[pick]
            self.slot[k] = start + r.sent * self.prompt_bpp / r.flow * g.period_s / g.rate_factor
            r.sent += 1
            self.genai_of[k] = r.path[-1]
            for sid, stream in enumerate(work.prompts[k]):
                r.app.SendStream(ns.Seconds(self.slot[k]), r.dst, PORT, k, sid, len(work.prompts[k]), stream)
        self.duration = max(r.sent * self.prompt_bpp / r.flow for r in prompt_routes) * g.period_s / g.rate_factor
        original = ORIGINAL_UNIT_BASE
        for r in (r for r in self.routes if r.kind == "classical"):
            for _ in range(math.ceil(self.duration * r.flow * self.bps_per_bpp / (RAW_BPP * self.pixels)) + 1):
                r.app.SendStream(ns.Seconds(start), r.dst, PORT, original, 0, 1,
                                 work.originals[(original - ORIGINAL_UNIT_BASE) % self.n_units].tobytes())
                original += 1

    def send_generated(self, node: str, unit: int, data: bytes, compute_s: float) -> None:
        """What `node` made of `unit`, after its compute queue, on its next generated path."""
        now = self.ns.Simulator.Now().GetSeconds()
        self.busy_until[node] = max(now, self.busy_until[node]) + compute_s
        r = self.gen_routes[node][next(self.picks[node])]
        r.app.SendStream(self.ns.Seconds(self.busy_until[node] - now), r.dst, PORT, unit, 0, 1, data)

    def on_prompt(self, node: str, unit: int) -> None:
        """Explicit / hybrid prompting: generate from the latent (PS / hybrid: join the second
        stream in) and send the image on."""
        rx, size, work = self.receivers[node], self.size, self.work
        try:
            frames = [ns3.vector_bytes(rx.GetStreamBytes(unit, 0))]
            answer = self.agents["generator"].client.call(schema.request(
                "generate", frames, unit=unit, streams=["latent"], complete=[bool(rx.IsUnitComplete(unit))],
                crc_ok=[bool(rx.IsStreamCrcOk(unit, 0))], h=size, w=size, format="raw"))
            generated = answer.frames[0]
            if len(work.prompts[unit]) > 1:  # PS / hybrid: the second stream joins in (a damaged payload raises)
                image = np.frombuffer(generated, np.uint8).reshape(size, size, 3)
                extra = ns3.vector_bytes(rx.GetStreamBytes(unit, 1))
                join = pixel_swap.apply_swap if self.cfg.gnl.ps_gamma > 0 else hybrid.combine
                generated = join(image, extra).tobytes()
            self.send_generated(node, unit, generated, self.cfg.compute.generate_s)
            self.outcome[unit] = "generated"
        except Exception:  # noqa: BLE001 - the unit goes missing at d; the run goes on
            log.exception("GenAI node %s: unit %d not generated", node, unit)
            self.outcome[unit] = "failed"
        finally:
            rx.ReleaseUnit(unit)

    def on_frame(self, node: str, unit: int) -> None:
        """Implicit prompting: keep every frame that arrives intact, for its deadline."""
        rx = self.receivers[node]
        if rx.IsUnitComplete(unit) and rx.IsStreamCrcOk(unit, 0):
            data = ns3.vector_bytes(rx.GetStreamBytes(unit, 0))
            if len(data) == self.pixels * 3:
                self.received[unit] = (np.frombuffer(data, np.uint8).reshape(self.size, self.size, 3),
                                       self.ns.Simulator.Now())
        rx.ReleaseUnit(unit)

    def at_deadline(self, node: str, unit: int) -> None:
        """Frame `unit` is due: forward it if it arrived, else predict it from the frames of its
        pan received so far (never from predicted ones)."""
        work = self.work
        seq, index = work.sequence[unit]
        if unit in self.received:
            self.send_generated(node, unit, self.received[unit][0].tobytes(), 0.0)
            self.outcome[unit] = "received"
            return
        history = [(work.sequence[u][1], frame) for u, (frame, _) in self.received.items() if work.sequence[u][0] == seq]
        try:
            self.send_generated(node, unit, implicit.predict(history, index).tobytes(), self.cfg.compute.generate_s)
            self.outcome[unit] = "predicted"
        except ValueError as exc:  # nothing received yet in this pan
            log.warning("GenAI node %s: frame %d of pan %d not predicted: %s", node, index, seq, exc)
            self.outcome[unit] = "failed"

    def on_dest(self, unit: int) -> None:
        """d scores each generated / forwarded unit that arrives complete."""
        dest = self.receivers["d"]
        if unit < ORIGINAL_UNIT_BASE and dest.IsUnitComplete(unit):
            got = np.frombuffer(ns3.vector_bytes(dest.GetStreamBytes(unit, 0)), np.uint8)
            if got.size == self.pixels * 3:
                self.distortion[unit] = metrics.normalised_mse(self.work.originals[unit],
                                                               got.reshape(self.size, self.size, 3))
        dest.ReleaseUnit(unit)

    def simulate(self) -> None:
        ns, g = self.ns, self.cfg.gnl
        implicit_prompting = g.prompting == "implicit"
        on_genai = self.on_frame if implicit_prompting else self.on_prompt
        handlers = ([(self.receivers[n], (lambda unit, n=n: on_genai(n, unit))) for n in self.genai]
                    + [(self.receivers["d"], self.on_dest)])
        for rx, handler in handlers:
            ns3.keep_alive(handler)
            rx.SetUnitHandler(handler)
        deadline_s = g.implicit_deadline_periods * g.period_s
        if implicit_prompting:
            for unit in range(self.n_units):
                ns3.schedule(self.slot[unit] + deadline_s, lambda unit=unit: self.at_deadline(self.genai_of[unit], unit))
        ns.Simulator.Stop(ns.Seconds(self.cfg.images.start_s + self.duration + self.cfg.sim.drain_s
                                     + 2 * self.cfg.compute.generate_s + (deadline_s if implicit_prompting else 0.0)))
        ns.Simulator.Run()
        ns.Simulator.Destroy()
        ns3.keep_alive(self.net)


def run(cfg, out: Path) -> dict:
    g = cfg.gnl
    graph = topology(g)
    genai = list(g.genai_nodes)
    with AgentSet(semantic_unit_agents(cfg, streams=["latent"]), out, cfg.agents) as agents:  # latent prompts only
        ns = ns3.load_ns()
        agents.wait_ready()
        work = _workload(cfg, agents)
        prompt_bpp = float(np.mean([8 * sum(map(len, p)) for p in work.prompts])) / (cfg.images.size ** 2)
        flow, classical, routes = plan_routes(graph, genai, prompt_bpp)
        if flow.divergence <= 0:
            raise ValueError(f"the GenAI nodes {genai} can carry no generative flow in this topology "
                             f"(L_p = {prompt_bpp:.3f} bpp): nothing to measure")
        trace = ns3.reset(ns, cfg.seed)
        sim = FlowRun(cfg, ns, trace, agents, work, flow, routes, prompt_bpp)
        sim.build(graph)
        sim.send_prompts()
        sim.simulate()
    packets = packet_trace.write(sim.trace, out)
    return _write_results(cfg, out, sim, graph, classical, packets)


def _write_results(cfg, out: Path, sim: FlowRun, graph, classical: float, packets: pd.DataFrame) -> dict:
    """flows.csv (analytic vs measured), edges.csv, units.csv and the summary."""
    g, genai, flow, work = cfg.gnl, sim.genai, sim.flow, sim.work
    measured, window, delivered = measure_flows(packets, genai, sim.genai_of, sim.header, g.warmup_units, sim.bps_per_bpp)
    expected = {**{f"prompt[{n}]": flow.prompt_rate[n] for n in genai},
                **{f"generated[{n}]": flow.generated_rate[n] for n in genai},
                **{f"y[{n}]": flow.generated_rate[n] - flow.prompt_rate[n] for n in genai},
                "y": flow.divergence, "flow_gain": flow.flow_gain, "classical": classical,
                "delivered": classical + sum(flow.generated_rate.values())}
    measured["flow_gain"] = 1.0 + measured["y"] / flow.classical_max_flow
    flows = pd.DataFrame([{"quantity": k, "analytic": expected[k], "measured": measured[k]} for k in expected])
    flows["relative_error"] = (flows["measured"] - flows["analytic"]) / flows["analytic"]
    flows.to_csv(out / "flows.csv", index=False)
    edges = edge_table(graph, flow, sim.routes, packets, window, sim.header, sim.bps_per_bpp)
    edges.to_csv(out / "edges.csv", index=False)
    units = pd.DataFrame([{"unit": u, "sequence": work.sequence[u][0], "index": work.sequence[u][1],
                           "genai": sim.genai_of[u], "sent": bool(work.prompts[u]), "outcome": sim.outcome.get(u, "missing"),
                           "normalised_mse": sim.distortion.get(u, np.nan)} for u in range(sim.n_units)])
    units.to_csv(out / "units.csv", index=False)
    by_outcome = units.groupby("outcome")["normalised_mse"].agg(["count", "mean"])
    prompt_bpp = sim.prompt_bpp
    summary = {"name": cfg.name, "results": str(out), "units": sim.n_units, "prompting": g.prompting,
               "prompt_bpp": prompt_bpp, "data_bpp": RAW_BPP, "genai_nodes": genai,
               "f_sd_classical": flow.classical_max_flow,
               "lambda_per_period": {n: flow.prompt_rate[n] / prompt_bpp * g.rate_factor for n in genai},
               "window_s": list(window), "routes": [{"kind": r.kind, "path": r.path, "flow": r.flow, "pace": r.pace}
                                                    for r in sim.routes],
               "generated_units_delivered": delivered, "ps_gamma": g.ps_gamma,
               "delivered_normalised_mse": float(np.mean(list(sim.distortion.values()))) if sim.distortion else None,
               "outcomes": {k: {"units": int(v["count"]), "normalised_mse": float(v["mean"])} for k, v in by_outcome.iterrows()},
               "flows_in_bpp_per_period": flows.to_dict("records")}
    if g.edges is None:  # Fig. 1: the LP against the closed form of Eq. (4)
        summary["fig1_closed_form"] = gf.fig1_closed_form(g.c_sr, g.c_rd, g.c_sg, g.c_gd, RAW_BPP, prompt_bpp)
    write_summary(out, summary, default=float)
    return summary


def report(summary: dict) -> str:
    lam = ", ".join(f"{n} {v:.3f}" for n, v in summary["lambda_per_period"].items())
    lines = [f"prompt L_p = {summary['prompt_bpp']:.3f} bpp, data L = {summary['data_bpp']:g} bpp, lambda per period: {lam}; "
             f"classical max-flow f'_sd = {summary['f_sd_classical']:.4g}; {summary['generated_units_delivered']} generated units at d"]
    for r in summary["routes"]:
        lines.append(f"  {r['kind']:<9} {' -> '.join(r['path']):<24} flow {r['flow']:8.4f}  paced at {r['pace']:8.4f}")
    if summary["ps_gamma"] > 0:
        lines.append(f"pixel swapping: gamma = {summary['ps_gamma']:g} (L_p includes the swapped pixels)")
    made = ", ".join(f"{k} {v['units']} (normalised MSE at d {v['normalised_mse']:.4f})" for k, v in summary["outcomes"].items())
    lines.append(f"{summary['prompting']} prompting; units at the GenAI nodes: {made}")
    lines.append("flow (bpp per period)   analytic   measured   rel. error")
    for row in summary["flows_in_bpp_per_period"]:
        lines.append(f"  {row['quantity']:<20} {row['analytic']:9.4f}  {row['measured']:9.4f}   {row['relative_error']:+.2%}")
    return "\n".join(lines)


