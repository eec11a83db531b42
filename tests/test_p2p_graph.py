"""Point-to-point networks built from a graph: rates, delays, path pinning, validation."""

from __future__ import annotations

import tempfile
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gensemcom.channels import p2p_graph
from gensemcom.core import ns3, packet_trace

pytestmark = pytest.mark.ns3

HEADER = 28


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


def _fig1(c_rd=2e6) -> nx.DiGraph:
    """Fig. 1 with a fast, short relay path and a slow, long GenAI path."""
    g = nx.DiGraph()
    g.add_edge("s", "r", capacity=10e6, delay_ms=1.0)
    g.add_edge("r", "d", capacity=c_rd, delay_ms=1.0)
    g.add_edge("s", "g", capacity=10e6, delay_ms=20.0)
    g.add_edge("g", "d", capacity=10e6, delay_ms=20.0)
    return g


def _deliver(ns, graph, path, n_bytes, app_rate="50Mbps", trace=None):
    """Send one stream s -> d pinned on `path`; return (first byte latency, completion time)."""
    g = ns.cppyy.gbl.ns3
    net = p2p_graph.build(ns, graph, trace=trace)
    if path:
        net.pin_path(ns, path)
    apps = {}
    for name, port in (("s", 0), ("d", 9000)):
        app = ns.CreateObject[g.SemanticApp]()
        app.SetAttribute("Label", ns.StringValue(name))
        app.SetAttribute("ListenPort", ns.UintegerValue(port))
        app.SetAttribute("SegmentSize", ns.UintegerValue(1000))
        app.SetAttribute("DataRate", ns.StringValue(app_rate))
        net.nodes[name].AddApplication(app)
        apps[name] = app
    done = {}

    def on_unit(unit):
        done["t"] = ns.Simulator.Now().GetSeconds()
        done["first"] = apps["d"].GetUnitFirstRxTime(unit).GetSeconds()
        done["ok"] = bool(apps["d"].IsStreamCrcOk(unit, 0))
        apps["d"].ReleaseUnit(unit)

    ns3.keep_alive(on_unit)
    apps["d"].SetUnitHandler(on_unit)
    data = np.random.default_rng(0).bytes(n_bytes)
    apps["s"].SendStream(ns.Seconds(0.1), net.addresses["d"], 9000, 1, 0, 1, data)
    ns.Simulator.Stop(ns.Seconds(10))
    ns.Simulator.Run()
    ns.Simulator.Destroy()
    assert done.get("ok"), "stream did not arrive intact"
    return done["first"] - 0.1, done["t"] - 0.1


def test_pinned_paths_take_their_own_delays(ns):
    via_r, _ = _deliver(ns, _fig1(c_rd=10e6), ["s", "r", "d"], 1000)
    via_g, _ = _deliver(ns, _fig1(c_rd=10e6), ["s", "g", "d"], 1000)
    def tx(rate):  # app + UDP + IP + PPP bytes
        return (1000 + HEADER + 8 + 20 + 2) * 8 / rate
    assert via_r == pytest.approx(0.002 + 2 * tx(10e6), abs=1e-5)
    assert via_g == pytest.approx(0.040 + 2 * tx(10e6), abs=1e-5)


def test_bottleneck_capacity_sets_the_throughput(ns):
    n_bytes = 200_000
    _, done = _deliver(ns, _fig1(c_rd=2e6), ["s", "r", "d"], n_bytes, app_rate="2Mbps")
    on_wire = n_bytes / 1000 * (1000 + HEADER + 8 + 20 + 2) * 8
    assert done == pytest.approx(on_wire / 2e6, rel=0.02)


def test_asymmetric_link_rates(ns):
    graph = nx.DiGraph()
    graph.add_edge("s", "d", capacity=1e6, delay_ms=0.0)
    graph.add_edge("d", "s", capacity=8e6, delay_ms=0.0)
    _, done = _deliver(ns, graph, None, 50_000, app_rate="1Mbps")
    assert done == pytest.approx(50 * 1058 * 8 / 1e6, rel=0.02)  # the s -> d direction's rate


def test_bad_graphs_are_rejected(ns):
    graph = nx.DiGraph()
    graph.add_edge("s", "d")
    with pytest.raises(ValueError, match="edge s - d: 'capacity'"):
        p2p_graph.build(ns, graph)
    graph = nx.DiGraph()
    graph.add_edge("s", "d", capacity=1e6, delay_ms=1.0)
    graph.add_edge("d", "s", capacity=1e6, delay_ms=5.0)
    with pytest.raises(ValueError, match="share one link"):
        p2p_graph.build(ns, graph)
    net = p2p_graph.build(ns, _fig1())
    with pytest.raises(ValueError, match="no link r - g"):
        net.pin_path(ns, ["s", "r", "g"])
    net.pin_path(ns, ["s", "r", "d"])
    with pytest.raises(ValueError, match="already routes .* via r, not g"):  # same destination, other route
        net.pin_path(ns, ["s", "g", "d"])
    net.pin_path(ns, ["s", "g", "d"], net.address_on("g", "d"))  # another address of d: its own route
    ns.Simulator.Destroy()


def test_every_link_logs_its_frames(ns):
    trace = packet_trace.create(ns)
    _deliver(ns, _fig1(), ["s", "r", "d"], 5_000, trace=trace)
    with tempfile.TemporaryDirectory() as tmp:
        packets = packet_trace.write(trace, Path(tmp))
        assert packets.equals(pd.read_parquet(Path(tmp) / "packets.parquet"))
    frames = packets[packets["event"] == "link_tx"].groupby("node")["bytes"].agg(["count", "sum"])
    # 5 segments of 1000 bytes + 28 semantic header, + UDP/IPv4 (28) + PPP (2) on each hop of the path only
    assert set(frames.index) == {"s>r", "r>d"}
    assert (frames["count"] == 5).all() and (frames["sum"] == 5_000 + 5 * (HEADER + 30)).all()


def test_destination_addresses_per_last_link_select_the_route(ns):
    """d reached over r (2 ms) and over g (40 ms) by the address of d on each path's last link."""
    for path, low, high in ((["s", "r", "d"], 0.002, 0.006), (["s", "g", "d"], 0.040, 0.043)):
        net = p2p_graph.build(ns, _fig1())
        dst = net.pin_path(ns, path, net.address_on(path[-2], path[-1]))
        apps = {n: ns3.install_semantic_app(ns, net.nodes[n], n, segment_bytes=500, rate="50Mbps",
                                                unit_timeout_s=5.0, listen_port=port) for n, port in (("s", 0), ("d", 9000))}
        got = {}

        def on_unit(unit, apps=apps, got=got):
            got["t"] = apps["d"].GetUnitFirstRxTime(unit).GetSeconds()
            apps["d"].ReleaseUnit(unit)

        ns3.keep_alive(on_unit)
        apps["d"].SetUnitHandler(on_unit)
        apps["s"].SendStream(ns.Seconds(0.1), dst, 9000, 1, 0, 1, b"x" * 400)
        ns.Simulator.Stop(ns.Seconds(2))
        ns.Simulator.Run()
        ns.Simulator.Destroy()
        assert low < got["t"] - 0.1 < high, path
