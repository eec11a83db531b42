"""Point-to-point networks from a graph: every edge of a networkx graph becomes an ns-3
point-to-point link (the generative network layer's topologies, backhaul between edge servers).

Edge attributes: "capacity" in bit/s (required) and "delay_ms" (default 1). With a trace sink,
every frame a device sends is logged as event "link_tx" of node "u>v" (ConnectLinkTx). An edge
(u, v) and its reverse (v, u) share one full-duplex link whose two directions run at their own
capacities; an edge without a reverse gets the same capacity both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx


@dataclass
class P2PNetwork:
    nodes: dict = field(default_factory=dict)       # name -> ns3::Node
    addresses: dict = field(default_factory=dict)   # name -> ns3::Ipv4Address (first interface)
    links: dict = field(default_factory=dict)       # (u, v) -> (device at u, device at v)
    _ifaces: dict = field(default_factory=dict)     # (u, v) -> (interface index at u, address of v on that link)
    keep: list = field(default_factory=list)        # ns-3 helpers that must outlive the run

    _pinned: dict = field(default_factory=dict)     # (node, destination address) -> next-hop node

    def address_on(self, u, v):
        """Address of v on the link u - v: a destination that names the link a path ends on."""
        if (u, v) not in self._ifaces:
            raise ValueError(f"no link {u} - {v}")
        return self._ifaces[(u, v)][1]

    def pin_path(self, ns, path: list, dst=None):
        """Route packets for dst (default: path[-1]'s first address) along path (static host
        routes, which ns-3 prefers over global routing): e.g. the original data s -> r -> d in the
        paper's Fig. 1. Routing is by destination, so two paths that reach one node by different
        routes need different destination addresses (address_on their last link): a path that
        contradicts an earlier one at some node is an error. Returns the destination address."""
        dst = self.addresses[path[-1]] if dst is None else dst
        for u, v in zip(path, path[1:]):
            if (u, v) not in self._ifaces:
                raise ValueError(f"no link {u} - {v} on the path {path}")
            key = (u, str(dst))
            if self._pinned.get(key, v) != v:
                raise ValueError(f"path {path}: {u} already routes {dst} via {self._pinned[key]}, not {v} "
                                 "(destination-based routing cannot split one destination's traffic at a node)")
            if key in self._pinned:
                continue
            self._pinned[key] = v
            iface, next_hop = self._ifaces[(u, v)]
            routing = ns.Ipv4StaticRoutingHelper().GetStaticRouting(self.nodes[u].GetObject[ns.Ipv4]())
            routing.AddHostRouteTo(dst, next_hop, iface)
        return dst


def _check(graph: nx.DiGraph) -> None:
    for u, v, data in graph.edges(data=True):
        cap = data.get("capacity")
        if not isinstance(cap, (int, float)) or cap <= 0:
            raise ValueError(f"edge {u} - {v}: 'capacity' (bit/s, > 0) is required, got {cap!r}")
        if data.get("delay_ms", 1.0) < 0:
            raise ValueError(f"edge {u} - {v}: 'delay_ms' must be >= 0")
        if graph.has_edge(v, u) and graph.edges[v, u].get("delay_ms", 1.0) != data.get("delay_ms", 1.0):
            raise ValueError(f"edges {u} - {v} and {v} - {u} share one link: give them the same 'delay_ms'")


def build(ns, graph: nx.DiGraph, queue_packets: int = 1000, trace=None) -> P2PNetwork:
    """trace: a SemanticTraceSink (trace_sink.create) that logs the frames of every link."""
    _check(graph)
    net = P2PNetwork()
    container = ns.NodeContainer()
    container.Create(graph.number_of_nodes())
    for i, name in enumerate(graph.nodes):
        net.nodes[name] = container.Get(i)
    internet = ns.InternetStackHelper()
    internet.Install(container)
    p2p = ns.PointToPointHelper()
    p2p.SetQueue("ns3::DropTailQueue", "MaxSize", ns.StringValue(f"{queue_packets}p"))
    address = ns.Ipv4AddressHelper()
    done = set()
    for k, (u, v) in enumerate(graph.edges):
        if (u, v) in done:
            continue
        done |= {(u, v), (v, u)}
        forward = graph.edges[u, v]
        backward = graph.edges[v, u] if graph.has_edge(v, u) else forward
        p2p.SetChannelAttribute("Delay", ns.TimeValue(ns.MilliSeconds(forward.get("delay_ms", 1.0))))
        devs = p2p.Install(net.nodes[u], net.nodes[v])
        devs.Get(0).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(forward["capacity"]))))
        devs.Get(1).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(backward["capacity"]))))
        address.SetBase(ns.Ipv4Address(f"10.{k // 64}.{(k % 64) * 4}.0"), ns.Ipv4Mask("255.255.255.252"))
        ifs = address.Assign(devs)
        net.links[(u, v)] = (devs.Get(0), devs.Get(1))
        for device, label in ((devs.Get(0), f"{u}>{v}"), (devs.Get(1), f"{v}>{u}")):  # per-link flows in the trace
            if trace is not None:
                trace.ConnectLinkTx(device, label)
        ipv4_u = net.nodes[u].GetObject[ns.Ipv4]()
        ipv4_v = net.nodes[v].GetObject[ns.Ipv4]()
        net._ifaces[(u, v)] = (ipv4_u.GetInterfaceForDevice(devs.Get(0)), ifs.GetAddress(1))
        net._ifaces[(v, u)] = (ipv4_v.GetInterfaceForDevice(devs.Get(1)), ifs.GetAddress(0))
        net.addresses.setdefault(u, ifs.GetAddress(0))
        net.addresses.setdefault(v, ifs.GetAddress(1))
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()
    net.keep += [container, internet, p2p, address]
    return net
