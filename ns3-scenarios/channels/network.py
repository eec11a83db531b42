"""What a channel builds: ns-3 nodes by name, their addresses and roles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class Network:
    nodes: dict = field(default_factory=dict)       # name -> ns3::Node
    addresses: dict = field(default_factory=dict)   # name -> ns3::Ipv4Address
    sources: list[str] = field(default_factory=list)  # nodes that send semantic units
    sink: str = ""                                  # node that receives the generated content
    genai: str = ""                                 # the GenAI node: generates from the units
    info: dict = field(default_factory=dict)        # what was built, for summary.json
    keep: list = field(default_factory=list)        # ns-3 helpers that must outlive the run
    devices: dict = field(default_factory=dict)     # node name -> its radio / link NetDevice
    radio: object = None                            # the channel's own network object (the NR cell)


EDGE_SERVER = "es"  # the edge server (GenAI node) of a radio network's semantic-unit run


def server_stack(ns, gateway, ue_network: tuple[str, str], net: Network, names: list[str], rate: str, delay_ms: float):
    """Hosts behind a radio network's gateway node (LTE: the PGW; NR: the gNB), each on its own
    point-to-point backhaul link (server i on subnet 1.i.0.0/16; a lone server on 1.0.0.0/8,
    as it always was). Each routes the UEs' network (address, mask) and, through the gateway,
    the other servers. Returns (internet, routing, p2p)."""
    hosts = ns.NodeContainer()
    hosts.Create(len(names))
    internet = ns.InternetStackHelper()
    internet.Install(hosts)
    p2p = ns.PointToPointHelper()
    p2p.SetDeviceAttribute("DataRate", ns.StringValue(rate))
    p2p.SetDeviceAttribute("Mtu", ns.UintegerValue(1500))
    p2p.SetChannelAttribute("Delay", ns.TimeValue(ns.MilliSeconds(delay_ms)))
    routing = ns.Ipv4StaticRoutingHelper()
    for i, name in enumerate(names):
        host = hosts.Get(i)
        backhaul = p2p.Install(gateway, host)
        ipv4h = ns.Ipv4AddressHelper()
        if len(names) == 1:
            ipv4h.SetBase(ns.Ipv4Address("1.0.0.0"), ns.Ipv4Mask("255.0.0.0"))
        else:
            ipv4h.SetBase(ns.Ipv4Address(f"1.{i}.0.0"), ns.Ipv4Mask("255.255.0.0"))
        backhaul_ifs = ipv4h.Assign(backhaul)
        host_routes = routing.GetStaticRouting(host.GetObject[ns.Ipv4]())
        host_routes.AddNetworkRouteTo(ns.Ipv4Address(ue_network[0]), ns.Ipv4Mask(ue_network[1]), 1)
        if len(names) > 1:
            host_routes.AddNetworkRouteTo(ns.Ipv4Address("1.0.0.0"), ns.Ipv4Mask("255.0.0.0"), 1)
        net.nodes[name] = host
        net.addresses[name] = backhaul_ifs.GetAddress(1)
    return internet, routing, p2p


def spec_fields(settings, spec_class, what: str) -> dict:
    """The fields of a channel's spec dataclass from a dict or any dataclass with these names
    (e.g. a config section); an unknown name is a one-line ValueError."""
    if dataclasses.is_dataclass(settings):
        raw = dataclasses.asdict(settings)
    elif isinstance(settings, dict):
        raw = dict(settings)
    else:
        raise TypeError(f"{what} must be a dict or a dataclass, not {type(settings).__name__}")
    known = {f.name for f in dataclasses.fields(spec_class)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown {what} settings {sorted(unknown)}; known: {sorted(known)}")
    return raw
