"""Two nodes, "tx" and "rx", joined by the paper's semantic link (latency-aware-generative-
semcom.md, Sec. II-B and Table I): SemanticLinkChannel + SemanticLinkNetDevice (C++), with
the internet stack, IPv4 addresses and per-stream sub-channels.

Stream i carries UDP packets to port stream_port_base + i (SemanticApp's ListenPort + stream);
stream 0 is the prompt ("arq"), the others conditioning signals ("mqam", or "rate" for the
continuous Eq. 4). Both devices get the same streams, so traffic can flow either way.

    net = build(ns, {"distance_m": 150, "fading": "awgn",
                     "streams": [{"mode": "arq", "power_w": 4e-3}, {"target_ber": 1e-5}]}, seed=1)
    ... install SemanticApps on net.nodes["tx"] / ["rx"], run ...
    net.stats()[1]["ber"], net.stats()[0]["mean_attempts"]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

MODES = ("arq", "mqam", "rate")
FADINGS = ("rayleigh", "awgn")
# SemanticLinkStreamStats fields, copied into stats() dicts.
_STAT_FIELDS = ("enqueued", "delivered", "dropped", "attempts", "failures", "outages", "draws",
                "bitsSeen", "bitsFlipped", "received", "snrSum", "expectedFlips", "airtimeS")


@dataclass
class StreamSpec:
    """One orthogonal sub-channel (Table I: B_0 = B_1 = 1 MHz)."""

    mode: str = "mqam"            # "arq" (prompt), "mqam" (adaptive 64/16/4-QAM), "rate"
    bandwidth_hz: float = 1e6
    power_w: float = 5e-3         # p_i; Table I's budget P_T = 10 mW split evenly by default
    target_ber: float = 1e-4      # BER_i of Eq. (4), unused by "arq"


def _default_streams() -> list[StreamSpec]:
    return [StreamSpec(mode="arq"), StreamSpec()]


@dataclass
class LinkSpec:
    """Channel (Eq. 1, Table I) and device parameters; the names mirror the C++ attributes."""

    distance_m: float = 100.0
    fading: str = "rayleigh"      # or "awgn" (|h|^2 = 1)
    pathloss_ref_db: float = -30.0
    pathloss_exp: float = 3.4
    n0_dbm_hz: float = -174.0
    delay_s: float = 0.0          # propagation delay
    streams: list = field(default_factory=_default_streams)
    code_rate: float = 0.5        # r
    prompt_qam: int = 4           # M0
    per_k: float = 0.374
    per_b: float = -0.31
    per_packet_bits: int = 0      # L of Eq. (2); 0: each packet's own length
    alpha: float = 1.5
    beta: float = 5.0
    max_attempts: int = 1000
    protected_bytes: int = 56     # IPv4 + UDP + semantic header: never flipped
    uncounted_bytes: int = 0      # leading bytes with no air time (56: payload |v| only)
    outage_wait_s: float = 1e-3
    coherence_s: float = 0.0      # 0: one fading block per burst
    stream_port_base: int = 9000
    mtu: int = 1500


def _as_spec(link) -> LinkSpec:
    if dataclasses.is_dataclass(link):  # LinkSpec, or any config dataclass with these names
        raw = dataclasses.asdict(link)
    elif isinstance(link, dict):
        raw = dict(link)
    else:
        raise TypeError(f"link must be a dict or a dataclass, not {type(link).__name__}")
    known = {f.name for f in dataclasses.fields(LinkSpec)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown semantic link settings {sorted(unknown)}; known: {sorted(known)}")
    streams = []
    for s in raw.pop("streams", None) or _default_streams():
        s = dataclasses.asdict(s) if dataclasses.is_dataclass(s) else dict(s)
        streams.append(StreamSpec(**s))
    spec = LinkSpec(streams=streams, **raw)
    if spec.fading not in FADINGS:
        raise ValueError(f"fading must be one of {FADINGS}, got {spec.fading!r}")
    for i, s in enumerate(spec.streams):
        if s.mode not in MODES:
            raise ValueError(f"stream {i}: mode must be one of {MODES}, got {s.mode!r}")
    return spec


@dataclass
class SemanticLinkNetwork:
    nodes: dict = field(default_factory=dict)       # "tx"/"rx" -> ns3::Node
    addresses: dict = field(default_factory=dict)   # "tx"/"rx" -> ns3::Ipv4Address
    devices: dict = field(default_factory=dict)     # "tx"/"rx" -> ns3::SemanticLinkNetDevice
    channel: object = None
    spec: LinkSpec | None = None
    keep: list = field(default_factory=list)        # ns-3 objects that must outlive the run

    def stats(self, name: str = "tx") -> dict[int, dict]:
        """Per-stream counters of a device, plus the realised BER, mean ARQ attempts per
        delivered packet and mean SNR of the channel draws (None where undefined)."""
        dev = self.devices[name]
        out = {}
        for sid in dev.GetStreamIds():
            st = dev.GetStreamStats(sid)
            d = {k: (float if k in ("snrSum", "expectedFlips", "airtimeS") else int)(getattr(st, k))
                 for k in _STAT_FIELDS}
            d["ber"] = d["bitsFlipped"] / d["bitsSeen"] if d["bitsSeen"] else None
            d["mean_attempts"] = d["attempts"] / d["delivered"] if d["delivered"] else None
            d["mean_snr"] = d["snrSum"] / d["draws"] if d["draws"] else None
            out[int(sid)] = d
        return out

    def set_power(self, stream: int, power_w: float) -> None:
        """New transmit power for a stream on both devices (e.g. a new power allocation)."""
        for dev in self.devices.values():
            dev.SetStreamPower(stream, float(power_w))


def build(ns, link, seed: int, stream_base: int = 3000, trace=None) -> SemanticLinkNetwork:
    """tx <-> rx over one semantic link. `seed` selects the ns-3 run (RngSeedManager.SetRun, as
    the runner does); the devices' random streams are fixed at stream_base .. stream_base+5.
    trace: a SemanticTraceSink (trace_sink.create) that logs both devices' events."""
    spec = _as_spec(link)
    g = ns.cppyy.gbl.ns3
    ns.RngSeedManager.SetRun(int(seed))

    nodes = ns.NodeContainer()
    nodes.Create(2)
    internet = ns.InternetStackHelper()
    internet.Install(nodes)

    channel = ns.CreateObject[g.SemanticLinkChannel]()
    for attr, value in (("Distance", ns.DoubleValue(spec.distance_m)),
                        ("PathlossRefDb", ns.DoubleValue(spec.pathloss_ref_db)),
                        ("PathlossExponent", ns.DoubleValue(spec.pathloss_exp)),
                        ("NoiseDbmHz", ns.DoubleValue(spec.n0_dbm_hz)),
                        ("Fading", ns.StringValue(spec.fading)),
                        ("PropagationDelay", ns.TimeValue(ns.Seconds(spec.delay_s)))):
        channel.SetAttribute(attr, value)

    net = SemanticLinkNetwork(channel=channel, spec=spec)
    container = ns.NetDeviceContainer()
    for i, name in enumerate(("tx", "rx")):
        dev = ns.CreateObject[g.SemanticLinkNetDevice]()
        for attr, value in (("Label", ns.StringValue(name)),
                            ("Mtu", ns.UintegerValue(spec.mtu)),
                            ("StreamPortBase", ns.UintegerValue(spec.stream_port_base)),
                            ("CodeRate", ns.DoubleValue(spec.code_rate)),
                            ("PromptQam", ns.UintegerValue(spec.prompt_qam)),
                            ("PerK", ns.DoubleValue(spec.per_k)),
                            ("PerB", ns.DoubleValue(spec.per_b)),
                            ("PerPacketBits", ns.UintegerValue(spec.per_packet_bits)),
                            ("Alpha", ns.DoubleValue(spec.alpha)),
                            ("Beta", ns.DoubleValue(spec.beta)),
                            ("MaxAttempts", ns.UintegerValue(spec.max_attempts)),
                            ("ProtectedBytes", ns.UintegerValue(spec.protected_bytes)),
                            ("UncountedBytes", ns.UintegerValue(spec.uncounted_bytes)),
                            ("OutageWait", ns.TimeValue(ns.Seconds(spec.outage_wait_s))),
                            ("CoherenceTime", ns.TimeValue(ns.Seconds(spec.coherence_s)))):
            dev.SetAttribute(attr, value)
        for sid, s in enumerate(spec.streams):
            dev.SetStream(sid, float(s.bandwidth_hz), float(s.power_w), s.mode, float(s.target_ber))
        dev.AssignStreams(stream_base + 3 * i)
        if trace is not None:
            trace.ConnectSemanticLink(dev, name)
        node = nodes.Get(i)
        node.AddDevice(dev)
        dev.Attach(channel)
        container.Add(dev)
        net.nodes[name] = node
        net.devices[name] = dev

    address = ns.Ipv4AddressHelper()
    address.SetBase(ns.Ipv4Address("10.77.0.0"), ns.Ipv4Mask("255.255.255.252"))
    ifs = address.Assign(container)
    net.addresses = {"tx": ifs.GetAddress(0), "rx": ifs.GetAddress(1)}
    net.keep += [nodes, internet, container, address, ifs]
    return net
