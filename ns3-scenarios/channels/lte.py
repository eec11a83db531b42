"""Channel `lte`: UEs <-> eNB (ns-3 LENA: AMC, HARQ, RLC, fading) <-> EPC/PGW <-> point-to-point
backhaul <-> edge servers (remote hosts behind the PGW, mobile edge computing co-located with
the core), each on its own backhaul link and reachable from each other through the PGW.

For semantic units (`build`): the UEs of section `lte` (sources and one sink) and one edge
server "es", the GenAI node. Source UEs send units uplink to it; it sends the generated content
downlink to the sink UE. `build_network` builds any set of UEs and edge servers (mobile edge
generation).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from gensemcom.config.networks import SRS_PERIODS_MS
from gensemcom.constants import CONDITIONING_PORTS
from gensemcom.core.paths import build_dir

from .fading import ensure_fading_trace
from .network import EDGE_SERVER, Network, server_stack

# Friendly config names -> ns-3 TypeIds (all accepted by LteHelper's PathlossModel).
PATHLOSS_MODELS = {
    "friis": "ns3::FriisPropagationLossModel",
    "log_distance": "ns3::LogDistancePropagationLossModel",
    "three_log_distance": "ns3::ThreeLogDistancePropagationLossModel",
    "cost231": "ns3::Cost231PropagationLossModel",
    "okumura_hata": "ns3::OkumuraHataPropagationLossModel",
}
SCHEDULERS = {
    "pf": "ns3::PfFfMacScheduler",
    "rr": "ns3::RrFfMacScheduler",
    "fdmt": "ns3::FdMtFfMacScheduler",
    "tdmt": "ns3::TdMtFfMacScheduler",
}
# per_stream: ns-3 picks RLC by the bearer's QCI packet error rate (AM below 1e-5, else UM):
# the prompt on the default bearer (QCI 9, 1e-6: AM), conditioning streams on a dedicated
# QCI 7 bearer (1e-3: UM), as the latency-aware paper wants (reliable prompt, best-effort rest).
RLC_MAPPING = {"am": "RlcAmAlways", "um": "RlcUmAlways", "sm": "RlcSmAlways", "per_stream": "PacketErrorRateBased"}
# ns-3 names the MI-based AMC model "Vienna" in its enum checker.
AMC_MODELS = {"mi": "Vienna", "piro": "PiroEW2010"}
ENB_HEIGHT_M = 30.0
UE_HEIGHT_M = 1.5
UE_NETWORK = ("7.0.0.0", "255.0.0.0")  # the EPC's UE addresses
# One row per transport block (MCS, size, HARQ round, NDI, ok); allocations that carried no MAC
# PDU (unused UL grants, unfilled DL allocations) are phy_ul_tb_empty / phy_dl_tb_empty.
TRACE_EVENTS = ("phy_ul_tb", "phy_dl_tb", "phy_ul_tb_empty", "phy_dl_tb_empty")


def _value(ns, v):
    """Typed ns-3 AttributeValue from a JSON scalar (StringValue converts via the checker)."""
    if isinstance(v, bool):
        return ns.BooleanValue(v)
    if isinstance(v, int):
        return ns.UintegerValue(v) if v >= 0 else ns.IntegerValue(v)
    if isinstance(v, float):
        return ns.DoubleValue(v)
    return ns.StringValue(str(v))


def fading_cache_dir() -> Path:
    return build_dir() / "fading"


def build(ns, cfg, trace) -> Network:
    """The semantic-unit network: the UEs of section `lte` and the edge server "es" (the GenAI
    node). The LTE PHY traces are connected in ready(), once every device exists."""
    lte, epc, info = lte_helpers(ns, cfg.lte, cfg.seed, fading_cache_dir(), n_ues=len(cfg.lte.ues))
    net = Network(info=info, genai=EDGE_SERVER)
    # Edge server behind the PGW.
    internet, routing, p2p = server_stack(ns, epc.GetPgwNode(), UE_NETWORK, net, [EDGE_SERVER], cfg.backhaul.rate,
                                          cfg.backhaul.delay_ms)
    attach_ues(ns, lte, epc, internet, routing, net, [(u.name, u.distance_m) for u in cfg.lte.ues])
    for ue in cfg.lte.ues:
        if ue.role == "source":
            net.sources.append(ue.name)
        else:
            net.sink = ue.name
    if cfg.lte.rlc == "per_stream" and len(cfg.app.streams) > 1:
        for name in net.sources:
            conditioning_bearer(ns, lte, net.devices[name], CONDITIONING_PORTS[0],
                                CONDITIONING_PORTS[0] + len(cfg.app.streams) - 2)
        net.info["bearers"] = {"prompt": "default, QCI 9 (RLC AM)",
                               "conditioning": "dedicated, QCI 7 (RLC UM)", "ports": [
                                   CONDITIONING_PORTS[0], CONDITIONING_PORTS[0] + len(cfg.app.streams) - 2]}
    net.keep += [lte, epc, p2p, internet]
    return net


def build_network(ns, cfg, ues: list[tuple[str, float]], servers: list[str], trace) -> Network:
    """Any UEs (name, distance to the eNB in m) and edge servers; the first server is the
    network's GenAI node, every UE a source. (The PHY traces are connected in ready().)"""
    if not ues or not servers:
        raise ValueError("need at least one UE and one edge server")
    lte, epc, info = lte_helpers(ns, cfg.lte, cfg.seed, fading_cache_dir(), n_ues=len(ues))
    net = Network(info=info, genai=servers[0])
    internet, routing, p2p = server_stack(ns, epc.GetPgwNode(), UE_NETWORK, net, servers, cfg.backhaul.rate,
                                          cfg.backhaul.delay_ms)
    attach_ues(ns, lte, epc, internet, routing, net, ues)
    net.sources = [name for name, _ in ues]
    net.info.update({"ues": {name: d for name, d in ues}, "edge_servers": list(servers),
                     "backhaul": {"rate": cfg.backhaul.rate, "delay_ms": cfg.backhaul.delay_ms}})
    net.keep += [lte, epc, p2p, internet]
    return net


def ready(ns, cfg, net: Network, stream_bits: list[float], trace) -> None:
    """Connect the transport-block trace sources (TRACE_EVENTS) to the packet trace."""
    trace.ConnectLtePhy()


def finish(net: Network) -> None:
    """Nothing beyond the packet trace."""


def phy_summary(packets: pd.DataFrame, info: dict) -> dict:
    """Per direction (ul / dl): TBs, first-transmission BLER, HARQ retransmissions, failures
    never retransmitted, residual failures, empty allocations (analysis.lte_stats)."""
    from gensemcom.analysis.lte_stats import tb_stats

    return tb_stats(packets)


def conditioning_bearer(ns, lte, ue_dev, port_lo: int, port_hi: int) -> None:
    """A dedicated uplink bearer (QCI 7, non-GBR) for UDP to ports port_lo..port_hi."""
    g = ns.cppyy.gbl.ns3
    tft = g.Create[g.EpcTft]()  # SimpleRefCount, not an Object
    pf = g.EpcTft.PacketFilter()
    pf.direction = g.EpcTft.UPLINK
    pf.remotePortStart, pf.remotePortEnd = port_lo, port_hi
    tft.Add(pf)
    lte.ActivateDedicatedEpsBearer(ue_dev, g.EpsBearer(g.EpsBearer.NGBR_VOICE_VIDEO_GAMING), tft)


def srs_periodicity_ms(requested: int, n_ues: int) -> int:
    """SRS period for n_ues UEs: ns-3 has one SRS subframe offset per UE and refuses RRC
    connection beyond that (LteEnbRrc::DoAllocateTemporaryCellRnti). 0: 40 ms (ns-3's default)
    or longer."""
    if requested == 0:
        return next(p for p in SRS_PERIODS_MS if p >= max(n_ues, 40))
    if requested < n_ues:
        raise ValueError(f"lte.srs_periodicity_ms {requested} leaves no SRS slot for {n_ues - requested} "
                         f"of the {n_ues} UEs (ns-3 would never connect them)")
    return requested


def lte_helpers(ns, lte_cfg, seed: int, cache_dir: Path, n_ues: int):
    """LteHelper + PointToPointEpcHelper configured from the `lte` config section (scheduler,
    HARQ, link adaptation, SRS, path loss, bandwidth, fading) for n_ues UEs; returns (lte, epc,
    info for summary.json)."""
    # Buffers large enough for a whole unit: drops must come from the channel, not from the
    # default 10 kB RLC buffers.
    ns.Config.SetDefault("ns3::LteRlcUm::MaxTxBufferSize", ns.UintegerValue(4 * 1024 * 1024))
    ns.Config.SetDefault("ns3::LteRlcAm::MaxTxBufferSize", ns.UintegerValue(4 * 1024 * 1024))
    ns.Config.SetDefault("ns3::LteEnbRrc::EpsBearerToRlcMapping", ns.StringValue(RLC_MAPPING[lte_cfg.rlc]))
    ns.Config.SetDefault("ns3::LteAmc::AmcModel", ns.StringValue(AMC_MODELS[lte_cfg.amc]))
    ns.Config.SetDefault("ns3::LteEnbPhy::TxPower", ns.DoubleValue(lte_cfg.enb_tx_power_dbm))
    ns.Config.SetDefault("ns3::LteUePhy::TxPower", ns.DoubleValue(lte_cfg.ue_tx_power_dbm))

    lte = ns.CreateObject[ns.LteHelper]()
    epc = ns.CreateObject[ns.PointToPointEpcHelper]()
    lte.SetEpcHelper(epc)
    srs_ms = srs_periodicity_ms(lte_cfg.srs_periodicity_ms, n_ues)
    ns.Config.SetDefault("ns3::LteEnbRrc::SrsPeriodicity", ns.UintegerValue(srs_ms))
    la = lte_cfg.link_adaptation
    if la.enabled:  # the extension's link adaptation around the configured FF scheduler
        lte.SetSchedulerType("ns3::OllaFfMacScheduler")
        lte.SetSchedulerAttribute("Scheduler", ns.StringValue(SCHEDULERS[lte_cfg.scheduler]))
        lte.SetSchedulerAttribute("TargetBler", ns.DoubleValue(la.target_bler))
        lte.SetSchedulerAttribute("UlStepDb", ns.DoubleValue(la.ul_step_db))
        lte.SetSchedulerAttribute("DlStepCqi", ns.DoubleValue(la.dl_step_cqi))
    else:
        lte.SetSchedulerType(SCHEDULERS[lte_cfg.scheduler])
    lte.SetSchedulerAttribute("HarqEnabled", ns.BooleanValue(lte_cfg.harq))
    tid = ns.TypeId.LookupByName(PATHLOSS_MODELS[lte_cfg.propagation.model])
    lte.SetPathlossModelType(tid)
    for key, val in lte_cfg.propagation.attributes.items():
        lte.SetPathlossModelAttribute(key, _value(ns, val))
    lte.SetEnbDeviceAttribute("DlBandwidth", ns.UintegerValue(lte_cfg.bandwidth_rb))
    lte.SetEnbDeviceAttribute("UlBandwidth", ns.UintegerValue(lte_cfg.bandwidth_rb))
    lte.SetEnbDeviceAttribute("DlEarfcn", ns.UintegerValue(lte_cfg.earfcn_dl))
    lte.SetEnbDeviceAttribute("UlEarfcn", ns.UintegerValue(lte_cfg.earfcn_dl + 18000))
    lte.SetUeDeviceAttribute("DlEarfcn", ns.UintegerValue(lte_cfg.earfcn_dl))

    info = {"pathloss": PATHLOSS_MODELS[lte_cfg.propagation.model],
            "scheduler": SCHEDULERS[lte_cfg.scheduler], "rlc": RLC_MAPPING[lte_cfg.rlc],
            "amc": AMC_MODELS[lte_cfg.amc], "fading": None, "srs_periodicity_ms": srs_ms,
            "link_adaptation": la.model_dump() if la.enabled else None}
    if lte_cfg.fading.model != "none":
        trace = ensure_fading_trace(cache_dir, lte_cfg.fading.model, lte_cfg.fading.speed_kmh,
                                    lte_cfg.bandwidth_rb, lte_cfg.fading.trace_s, seed)
        lte.SetFadingModel("ns3::TraceFadingLossModel")
        lte.SetFadingModelAttribute("TraceFilename", ns.StringValue(trace["path"]))
        lte.SetFadingModelAttribute("TraceLength", ns.TimeValue(ns.Seconds(trace["TraceLength_s"])))
        lte.SetFadingModelAttribute("SamplesNum", ns.UintegerValue(trace["SamplesNum"]))
        lte.SetFadingModelAttribute("WindowSize", ns.TimeValue(ns.Seconds(trace["WindowSize_s"])))
        lte.SetFadingModelAttribute("RbNum", ns.UintegerValue(trace["RbNum"]))
        info["fading"] = {"model": lte_cfg.fading.model, "speed_kmh": lte_cfg.fading.speed_kmh,
                          "trace": trace["path"]}
    return lte, epc, info


def attach_ues(ns, lte, epc, internet, routing, net: Network, ues: list[tuple[str, float]]) -> list[str]:
    """One eNB at the origin and the UEs (name, distance) on a circle around it, attached, with
    IP addresses and fixed LTE random streams; returns the UE names."""
    enbs = ns.NodeContainer()
    enbs.Create(1)
    ue_nodes = ns.NodeContainer()
    ue_nodes.Create(len(ues))
    pos = ns.CreateObject[ns.ListPositionAllocator]()
    pos.Add(ns.Vector(0.0, 0.0, ENB_HEIGHT_M))
    for i, (_, distance_m) in enumerate(ues):
        angle = 2 * math.pi * i / len(ues)
        pos.Add(ns.Vector(distance_m * math.cos(angle), distance_m * math.sin(angle), UE_HEIGHT_M))
    mobility = ns.MobilityHelper()
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    mobility.SetPositionAllocator(pos)
    mobility.Install(enbs)
    mobility.Install(ue_nodes)

    enb_devs = lte.InstallEnbDevice(enbs)
    ue_devs = lte.InstallUeDevice(ue_nodes)
    internet.Install(ue_nodes)
    ue_ifs = epc.AssignUeIpv4Address(ue_devs)
    gateway = epc.GetUeDefaultGatewayAddress()
    for i, (name, _) in enumerate(ues):
        node = ue_nodes.Get(i)
        routing.GetStaticRouting(node.GetObject[ns.Ipv4]()).SetDefaultRoute(gateway, 1)
        net.nodes[name] = node
        net.addresses[name] = ue_ifs.GetAddress(i)
        net.devices[name] = ue_devs.Get(i)
    lte.Attach(ue_devs, enb_devs.Get(0))
    # Fix every random stream the LTE model draws from: same seed => same trace.
    lte.AssignStreams(enb_devs, 1000)
    lte.AssignStreams(ue_devs, 2000)
    net.keep += [mobility, pos]
    return [name for name, _ in ues]


def bearer_rlc_types(ns, ue_dev) -> dict[int, str]:
    """{DRB id: RLC class} of a UE once its bearers are set up (read from its RRC)."""
    rrc = ue_dev.GetObject[ns.LteUeNetDevice]().GetRrc()
    drbs = ns.ObjectMapValue()
    rrc.GetAttribute("DataRadioBearerMap", drbs)
    out = {}
    for key in range(1, 33):  # the map is keyed by DRB id (1..32), not 0..N-1
        info = drbs.Get(key)
        if not info:
            continue
        rlc = ns.PointerValue()
        info.GetAttribute("LteRlc", rlc)
        out[key] = str(rlc.GetObject().GetInstanceTypeId().GetName())
    return out
