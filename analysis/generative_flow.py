"""Flow analysis of the generative network layer (paper: generative-network-layer.md).

A graph is a networkx.DiGraph whose edges carry "capacity" (bit/s, or bpp per time unit as in
the paper). A GenAI node g absorbs prompts of average size L_p and emits generated data of
size L for each: its divergence is y_g = out - in = lambda (L - L_p) >= 0 (Eq. 2), and the
max-flow gain is G_flow = 1 + y_g / f'_sd (Eq. 3), where f'_sd is the classical max-flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import networkx as nx
import numpy as np
from scipy.optimize import linprog, minimize_scalar


def max_flow_lp(graph: nx.DiGraph, s, d) -> float:
    """Classical s-d max-flow as a linear program (the building block of the generative LP)."""
    edges = list(graph.edges)
    index = {e: k for k, e in enumerate(edges)}
    nodes = [v for v in graph.nodes if v not in (s, d)]
    a_eq = np.zeros((len(nodes), len(edges)))
    for row, v in enumerate(nodes):
        for u in graph.predecessors(v):
            a_eq[row, index[(u, v)]] += 1
        for w in graph.successors(v):
            a_eq[row, index[(v, w)]] -= 1
    cost = np.zeros(len(edges))  # maximise what leaves s minus what returns to s
    for w in graph.successors(s):
        cost[index[(s, w)]] -= 1
    for u in graph.predecessors(s):
        cost[index[(u, s)]] += 1
    bounds = [(0, graph.edges[e]["capacity"]) for e in edges]
    res = linprog(cost, A_eq=a_eq if nodes else None, b_eq=np.zeros(len(nodes)) if nodes else None,
                  bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"max-flow LP failed: {res.message}")
    return float(-res.fun)


@dataclass
class GenerativeFlow:
    prompt_size: float          # L_p
    prompt_rate: dict           # g -> prompt flow absorbed at g (lambda_g L_p)
    generated_rate: dict        # g -> generated flow emitted by g (lambda_g L)
    divergence: float           # y = sum_g y_g
    classical_max_flow: float   # f'_sd
    flow_gain: float            # G_flow, Eq. (3)
    objective: float            # y (1 - w delta(L_p))
    edge_flows: dict            # (u, v) -> (prompt flow, generated flow)


def generative_flow_lp(graph: nx.DiGraph, s, d, genai: list, data_size: float, prompt_size: float,
                       f_min: float = 0.0, classical: float | None = None, tidy: bool = False) -> GenerativeFlow:
    """Largest divergence for a fixed prompt size. Two commodities share every edge capacity:
    prompts (s -> GenAI nodes, absorbed there) and generated data (GenAI nodes -> d), with
    generated = (L / L_p) * absorbed prompts at each GenAI node; the prompt flow reaching the
    GenAI nodes in total is at least f_min (the generator's minimum prompt rate). `classical` is
    f'_sd if the caller has it already (it does not depend on the prompt size). tidy: among the
    optimal solutions take one with the least total edge flow (no detours or cycles, and the
    routes a packet simulation follows; the divergence is unchanged)."""
    if not 0 < prompt_size <= data_size:
        raise ValueError(f"prompt size must be in (0, L={data_size}], got {prompt_size}")
    edges = list(graph.edges)
    ne, ng = len(edges), len(genai)
    index = {e: k for k, e in enumerate(edges)}
    # x = [prompt flow per edge | generated flow per edge | absorbed prompt rate per GenAI node]
    nvar = 2 * ne + ng
    rows, rhs = [], []

    def balance(v, commodity: int) -> np.ndarray:
        row = np.zeros(nvar)
        off = commodity * ne
        for u in graph.predecessors(v):
            row[off + index[(u, v)]] += 1
        for w in graph.successors(v):
            row[off + index[(v, w)]] -= 1
        return row

    ratio = data_size / prompt_size
    for v in graph.nodes:
        if v != s:  # prompts: conserved everywhere but s; at GenAI nodes in - out = absorbed
            row = balance(v, 0)
            if v in genai:
                row[2 * ne + genai.index(v)] -= 1
            rows.append(row)
            rhs.append(0.0)
        if v != d:  # generated data: conserved everywhere but d; at GenAI nodes out - in = ratio * absorbed
            row = balance(v, 1)
            if v in genai:
                row[2 * ne + genai.index(v)] += ratio
            rows.append(row)
            rhs.append(0.0)
    a_ub = np.zeros((ne, nvar))
    for k, e in enumerate(edges):
        a_ub[k, k] = a_ub[k, ne + k] = 1
    b_ub = [graph.edges[e]["capacity"] for e in edges]
    if f_min > 0:
        row = np.zeros(nvar)
        row[2 * ne:] = -1
        a_ub = np.vstack([a_ub, row])
        b_ub.append(-f_min)
    cost = np.zeros(nvar)
    cost[2 * ne:] = -(ratio - 1.0)  # maximise y = sum_g (ratio - 1) * absorbed_g
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=np.array(rows), b_eq=rhs,
                  bounds=[(0, None)] * nvar, method="highs")
    if res.status == 2:
        raise ValueError(f"infeasible: the GenAI nodes cannot receive f_min = {f_min}")
    if res.status != 0:
        raise RuntimeError(f"generative flow LP failed: {res.message}")
    y_best = float(-res.fun)
    if tidy and y_best > 0:  # second stage: keep y >= y* (to solver precision), minimise the edge flows
        total = np.zeros(nvar)
        total[:2 * ne] = 1.0
        res2 = linprog(total, A_ub=np.vstack([a_ub, cost]), b_ub=[*b_ub, -y_best * (1 - 1e-9)], A_eq=np.array(rows),
                       b_eq=rhs, bounds=[(0, None)] * nvar, method="highs")
        if res2.status != 0:
            raise RuntimeError(f"generative flow LP (tidy stage) failed: {res2.message}")
        res = res2
    x = res.x
    absorbed = {g: float(x[2 * ne + i]) for i, g in enumerate(genai)}
    y = float(-(cost @ x))
    f_sd = max_flow_lp(graph, s, d) if classical is None else classical
    return GenerativeFlow(prompt_size, absorbed, {g: ratio * a for g, a in absorbed.items()}, y, f_sd,
                          1.0 + y / f_sd if f_sd > 0 else float("inf"), y,
                          {e: (float(x[k]), float(x[ne + k])) for k, e in enumerate(edges)})


def optimise_prompt_size(graph: nx.DiGraph, s, d, genai: list, data_size: float,
                         quality: Callable[[float], float], weight: float, bounds: tuple[float, float],
                         f_min: float = 0.0, grid: int = 200) -> GenerativeFlow:
    """maximise y(L_p) (1 - w delta(L_p)) over L_p in bounds (Section III). delta is the fitted
    rate-distortion or rate-perception curve (normalised, lower is better). A log-spaced grid
    finds the best basin (the product need not be unimodal), a bounded search refines it."""
    classical = max_flow_lp(graph, s, d)

    def value(lp: float) -> float:
        try:
            flow = generative_flow_lp(graph, s, d, genai, data_size, lp, f_min, classical)
        except ValueError:
            return -np.inf
        return flow.divergence * (1.0 - weight * quality(lp))

    lo, hi = bounds
    candidates = np.geomspace(lo, hi, grid)
    values = np.array([value(lp) for lp in candidates])
    k = int(np.argmax(values))
    a, b = candidates[max(k - 1, 0)], candidates[min(k + 1, grid - 1)]
    best = candidates[k]
    if b > a:
        res = minimize_scalar(lambda lp: -value(lp), bounds=(a, b), method="bounded", options={"xatol": 1e-9 * hi})
        if -res.fun > values[k]:
            best = float(res.x)
    flow = generative_flow_lp(graph, s, d, genai, data_size, best, f_min, classical)
    flow.objective = flow.divergence * (1.0 - weight * quality(best))
    return flow


def fig1_graph(c_sr: float, c_rd: float, c_sg: float, c_gd: float) -> nx.DiGraph:
    """The paper's Fig. 1: s - r - d (relay) and s - g - d (GenAI node)."""
    graph = nx.DiGraph()
    for (u, v), c in {("s", "r"): c_sr, ("r", "d"): c_rd, ("s", "g"): c_sg, ("g", "d"): c_gd}.items():
        graph.add_edge(u, v, capacity=c)
    return graph


def fig1_closed_form(c_sr: float, c_rd: float, c_sg: float, c_gd: float, data_size: float,
                     prompt_size: float) -> dict:
    """Eq. (4): lambda* = min(c_sg / L_p, c_gd / L); y_g = lambda* (L - L_p); Eq. (3)."""
    lam = min(c_sg / prompt_size, c_gd / data_size)
    y = lam * (data_size - prompt_size)
    f_sd = min(c_sr, c_rd) + min(c_sg, c_gd)
    return {"lambda": lam, "f_sg": lam * prompt_size, "f_gd": lam * data_size, "y_g": y,
            "f_sd_classical": f_sd, "flow_gain": 1.0 + y / f_sd}


def residual_classical_flow(graph: nx.DiGraph, s, d, used: dict) -> tuple[float, dict]:
    """Classical s-d max-flow on the capacity the generative flows leave (used: (u, v) ->
    flow already on the edge). Returns (value, {(u, v): flow})."""
    residual = nx.DiGraph()
    residual.add_nodes_from(graph.nodes)
    for u, v, data in graph.edges(data=True):
        residual.add_edge(u, v, capacity=max(0.0, data["capacity"] - used.get((u, v), 0.0)))
    value, flow = nx.maximum_flow(residual, s, d)
    return float(value), {(u, v): float(flow[u][v]) for u, v in graph.edges}


def decompose_paths(edge_flow: dict, sources: dict, sinks: dict, rel_tol: float = 1e-9) -> list[tuple[list, float]]:
    """Split a flow into paths: edge_flow (u, v) -> flow, injected at `sources` (node ->
    amount) and taken out at `sinks` (node -> amount), conserved elsewhere. Returns [(path,
    amount)]; cycles carry nothing from a source to a sink and are left out."""
    src, snk = ("__source__",), ("__sink__",)
    rest = {e: f for e, f in edge_flow.items() if f > 0}
    rest |= {(src, v): a for v, a in sources.items() if a > 0}
    rest |= {(v, snk): a for v, a in sinks.items() if a > 0}
    tol = rel_tol * max([1.0, *rest.values()])
    out_edges: dict = {}
    for u, v in rest:
        out_edges.setdefault(u, []).append(v)
    paths = []
    while any(rest.get((src, v), 0) > tol for v in sources):
        path, seen = [src], {src}
        while path[-1] != snk:  # depth-first over edges that still carry flow
            nxt = next((v for v in out_edges.get(path[-1], []) if rest.get((path[-1], v), 0) > tol and v not in seen), None)
            if nxt is None:
                if len(path) == 1:
                    return paths
                rest[(path[-2], path[-1])] = 0.0  # dead end: no flow onward from here
                seen.discard(path.pop())
                continue
            path.append(nxt)
            seen.add(nxt)
        hops = list(zip(path, path[1:]))
        amount = min(rest[h] for h in hops)
        for h in hops:
            rest[h] -= amount
        paths.append((path[1:-1], amount))
    return paths
