"""Where the generative network layer's flows go: the configured topology, the generative-flow
LP's flows for a prompt size decomposed into paths (analysis.generative_flow), each path with
the pacing rate of its share of every link on it."""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from gensemcom.analysis import generative_flow as gf
from gensemcom.constants import RAW_RGB_BPP

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


def topology(g) -> nx.DiGraph:
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
    flow = gf.generative_flow_lp(graph, "s", "d", genai, RAW_RGB_BPP, prompt_bpp, tidy=True)
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


def smooth_wrr(weights: list[float], n: int) -> list[int]:
    """n picks from len(weights) choices in proportion to the weights, evenly interleaved."""
    current, total, picks = [0.0] * len(weights), sum(weights), []
    for _ in range(n):
        current = [c + w for c, w in zip(current, weights)]
        k = int(np.argmax(current))
        current[k] -= total
        picks.append(k)
    return picks
