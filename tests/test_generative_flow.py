"""Generative network layer flows: max-flow LP vs networkx, the generative LP vs Eq. (4) on
Fig. 1, flow feasibility on larger graphs, and the prompt-size optimiser vs brute force."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from gensemcom.analysis import generative_flow as gf


def _random_graph(seed: int, n: int = 9, p: float = 0.35) -> nx.DiGraph:
    rng = np.random.default_rng(seed)
    graph = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    for u, v in graph.edges:
        graph.edges[u, v]["capacity"] = float(rng.uniform(0.5, 10.0))
    return graph


@pytest.mark.parametrize("seed", range(25))
def test_max_flow_lp_matches_networkx(seed):
    graph = _random_graph(seed)
    assert gf.max_flow_lp(graph, 0, 8) == pytest.approx(nx.maximum_flow_value(graph, 0, 8), abs=1e-7)


@pytest.mark.parametrize("seed", range(20))
def test_lp_matches_closed_form_on_fig1(seed):
    rng = np.random.default_rng(seed)
    c_sr, c_rd, c_sg, c_gd = rng.uniform(0.5, 30.0, 4)
    L = 24.0
    lp = float(rng.uniform(0.05, L))
    flow = gf.generative_flow_lp(gf.fig1_graph(c_sr, c_rd, c_sg, c_gd), "s", "d", ["g"], L, lp)
    closed = gf.fig1_closed_form(c_sr, c_rd, c_sg, c_gd, L, lp)
    assert flow.divergence == pytest.approx(closed["y_g"], rel=1e-7, abs=1e-9)
    assert flow.prompt_rate["g"] == pytest.approx(closed["f_sg"], rel=1e-7, abs=1e-9)
    assert flow.generated_rate["g"] == pytest.approx(closed["f_gd"], rel=1e-7, abs=1e-9)
    assert flow.flow_gain == pytest.approx(closed["flow_gain"], rel=1e-7)


def test_no_gain_when_the_prompt_is_the_data():
    flow = gf.generative_flow_lp(gf.fig1_graph(1, 1, 5, 5), "s", "d", ["g"], 24.0, 24.0)
    assert flow.divergence == pytest.approx(0.0, abs=1e-9) and flow.flow_gain == pytest.approx(1.0)


def test_f_min():
    graph = gf.fig1_graph(1, 1, 2.0, 50.0)
    flow = gf.generative_flow_lp(graph, "s", "d", ["g"], 24.0, 3.0, f_min=1.5)
    assert flow.prompt_rate["g"] >= 1.5 - 1e-9
    with pytest.raises(ValueError, match="infeasible"):
        gf.generative_flow_lp(graph, "s", "d", ["g"], 24.0, 3.0, f_min=2.5)  # c_sg = 2 < f_min


def _two_genai_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for u, v, c in [("s", "r1", 4), ("r1", "r2", 3), ("r2", "d", 5), ("s", "g1", 2), ("g1", "r2", 6),
                    ("s", "r3", 3), ("r3", "g2", 2.5), ("g2", "d", 7), ("r1", "g2", 1), ("g1", "d", 4)]:
        graph.add_edge(u, v, capacity=float(c))
    return graph


def test_two_genai_nodes_respect_capacity_and_conservation():
    graph, L, lp = _two_genai_graph(), 24.0, 2.0
    flow = gf.generative_flow_lp(graph, "s", "d", ["g1", "g2"], L, lp)
    for e, (p, q) in flow.edge_flows.items():
        assert p >= -1e-9 and q >= -1e-9 and p + q <= graph.edges[e]["capacity"] + 1e-9
    for g in ("g1", "g2"):
        p_in = sum(flow.edge_flows[(u, g)][0] for u in graph.predecessors(g))
        p_out = sum(flow.edge_flows[(g, w)][0] for w in graph.successors(g))
        q_in = sum(flow.edge_flows[(u, g)][1] for u in graph.predecessors(g))
        q_out = sum(flow.edge_flows[(g, w)][1] for w in graph.successors(g))
        assert p_in - p_out == pytest.approx(flow.prompt_rate[g], abs=1e-7)
        assert q_out - q_in == pytest.approx(L / lp * flow.prompt_rate[g], abs=1e-6)
    into_d = sum(q for (u, v), (_, q) in flow.edge_flows.items() if v == "d")
    assert into_d == pytest.approx(sum(flow.generated_rate.values()), rel=1e-7)
    assert flow.divergence == pytest.approx(sum(flow.generated_rate.values()) - sum(flow.prompt_rate.values()), rel=1e-7)
    # Both GenAI nodes are used and the generated flow is limited by the edges into d.
    assert min(flow.prompt_rate.values()) > 0.1


def _quality(lp: float) -> float:
    """A normalised rate-perception curve shaped like the paper's fits (falls with prompt size)."""
    return math.exp(-lp / 2.0)


@pytest.mark.parametrize("graph_name", ["fig1", "two_genai"])
@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
@pytest.mark.slow
def test_optimiser_vs_brute_force(graph_name, weight):
    if graph_name == "fig1":
        graph, genai = gf.fig1_graph(1.0, 1.0, 3.184, 24.0), ["g"]
    else:
        graph, genai = _two_genai_graph(), ["g1", "g2"]
    L, bounds = 24.0, (0.05, 24.0)
    best = gf.optimise_prompt_size(graph, "s", "d", genai, L, _quality, weight, bounds)
    classical = gf.max_flow_lp(graph, "s", "d")
    brute = max(gf.generative_flow_lp(graph, "s", "d", genai, L, lp, classical=classical).divergence
                * (1 - weight * _quality(lp)) for lp in np.linspace(*bounds, 800))
    assert best.objective >= brute - 1e-6 * abs(brute)
    # ... and the reported optimum is what the LP really gives at the reported prompt size.
    again = gf.generative_flow_lp(graph, "s", "d", genai, L, best.prompt_size)
    assert best.objective == pytest.approx(again.divergence * (1 - weight * _quality(best.prompt_size)))


def _random_genai_graph(seed: int):
    graph = _random_graph(seed, n=10, p=0.3)
    nx.relabel_nodes(graph, {0: "s", 9: "d", 3: "g1", 6: "g2"}, copy=False)
    return graph


@pytest.mark.parametrize("seed", range(15))
def test_tidy_solution_keeps_the_divergence_with_less_edge_flow(seed):
    graph = _random_genai_graph(seed)
    plain = gf.generative_flow_lp(graph, "s", "d", ["g1", "g2"], 24.0, 1.5)
    tidy = gf.generative_flow_lp(graph, "s", "d", ["g1", "g2"], 24.0, 1.5, tidy=True)
    assert tidy.divergence == pytest.approx(plain.divergence, rel=1e-7, abs=1e-9)
    total = lambda f: sum(p + q for p, q in f.edge_flows.values())  # noqa: E731
    assert total(tidy) <= total(plain) + 1e-7


@pytest.mark.parametrize("seed", range(15))
def test_paths_add_up_to_the_edge_flows(seed):
    graph = _random_genai_graph(seed)
    flow = gf.generative_flow_lp(graph, "s", "d", ["g1", "g2"], 24.0, 1.5, tidy=True)
    used = {e: p + q for e, (p, q) in flow.edge_flows.items()}
    classical, classical_edges = gf.residual_classical_flow(graph, "s", "d", used)
    cases = [({e: p for e, (p, _) in flow.edge_flows.items()}, {"s": sum(flow.prompt_rate.values())}, flow.prompt_rate),
             ({e: q for e, (_, q) in flow.edge_flows.items()}, flow.generated_rate, {"d": sum(flow.generated_rate.values())}),
             (classical_edges, {"s": classical}, {"d": classical})]
    for edge_flow, sources, sinks in cases:
        paths = gf.decompose_paths(edge_flow, sources, sinks)
        rebuilt = dict.fromkeys(graph.edges, 0.0)
        for path, amount in paths:
            assert path[0] in sources and path[-1] in sinks and amount > 0
            for e in zip(path, path[1:]):
                rebuilt[e] += amount
        # every edge carries at least what its paths need; the paths carry everything injected
        assert all(rebuilt[e] <= max(edge_flow.get(e, 0.0), 0.0) + 1e-6 for e in graph.edges)
        assert sum(a for _, a in paths) == pytest.approx(sum(sources.values()), abs=1e-6)
    # prompts + generated + classical never exceed a capacity
    for e in graph.edges:
        assert used[e] + classical_edges[e] <= graph.edges[e]["capacity"] + 1e-6


def test_decomposition_of_a_known_flow():
    flow = {("s", "a"): 3.0, ("a", "d"): 1.0, ("a", "b"): 2.0, ("b", "d"): 2.0, ("s", "b"): 0.5, ("b", "a"): 0.0}
    paths = gf.decompose_paths({**flow, ("b", "d"): 2.5}, {"s": 3.5}, {"d": 3.5})
    assert sorted((p, round(a, 9)) for p, a in paths) == [(["s", "a", "b", "d"], 2.0), (["s", "a", "d"], 1.0),
                                                           (["s", "b", "d"], 0.5)]
