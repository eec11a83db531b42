"""Channel `nr`: a 5G NR cell (docs/nr.md): one gNB node and its UE nodes on an NrCellChannel with
NrNetDevices (C++), the internet stack and IPv4 addresses on one subnet. Slots, scheduling,
link adaptation, HARQ and RLC run in C++ (docs/nr.md, "The cell (step 2b)"); Python sets the
attributes, the UEs' path losses (38.901 UMi / UMa or log-distance, from distance and carrier)
and, optionally, per-UE fading traces (float dB arrays [slot, prb]).

    net = build_cell(ns, {"numerology": 1, "n_prb": 51, "duplex": "DDDSU",
                          "ues": [{"distance_m": 80}, {"distance_m": 250}]}, seed=1, trace=trace)
    net.set_fading(0, gains_db)                   # optional, shape [n_slots, n_prb]
    ... UDP / SemanticApp between net.nodes["gnb"] and net.nodes["ue0"] ...
    net.stats(downlink=True)["first_tx_bler"]

UDP to port stream_port_base + i is RLC stream i (stream 0, the prompt: prompt_rlc_mode, AM by
default; the others stream_rlc_mode, UM); other traffic uses default_rlc_mode.

As a channel of scenario lte_edge (`build`, section `nr`): the UEs of nr.ues (sources and one
sink) in the cell, and the edge server "es" (the GenAI node) behind the gNB on the backhaul.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

import pandas as pd

from gensemcom.config.nr import NR_MAX_MCS, NR_MAX_PRB
from gensemcom.constants import UNIT_PORT

from .network import EDGE_SERVER, Network, server_stack, spec_fields
from .nr_fading import ensure_prb_gains, load_prb_gains
from .nr_tables import ensure_nr_tables

NUMEROLOGIES = (0, 1, 2, 3)
SCHEDULERS = ("rr", "pf")
RLC_MODES = ("AM", "UM")
PATHLOSS_MODELS = ("umi", "uma", "log_distance")
SPEED_OF_LIGHT = 299_792_458.0
# NrDirectionStats fields, copied into stats() dicts.
_STAT_FIELDS = ("tbs", "firstTx", "firstTxFailures", "retx", "residualLosses", "tbBitsOk",
                "payloadBytesOk", "sdusEnqueued", "sdusRejected", "sdusDelivered", "sdusDropped",
                "rlcRetxSegments", "sduDelaySumS", "sduDelayMaxS")


@dataclass
class UeSpec:
    """One UE: its distance to the gNB gives its path loss (or pathloss_db fixes it)."""

    distance_m: float = 100.0
    pathloss_db: float | None = None   # overrides the path-loss model
    fixed_mcs: int = -1                # -1: the cell's fixed_mcs / link adaptation


def _default_ues() -> list[UeSpec]:
    return [UeSpec()]


@dataclass
class CellSpec:
    """The cell; the names mirror NrCellChannel's attributes (docs/nr.md lists them)."""

    numerology: int = 1                # mu: SCS 15 * 2^mu kHz, slot 1/2^mu ms
    n_prb: int = 51                    # per direction; <= NR_MAX_PRB[mu] (38.101)
    duplex: str = "FDD"                # "FDD" or a TDD pattern of D, U, S (e.g. "DDDSU")
    s_slot_dl_symbols: int = 10        # S slot: DL symbols, guard, UL symbols (sum 14)
    s_slot_guard_symbols: int = 2
    s_slot_ul_symbols: int = 2
    ctrl_symbols: int = 1              # PDCCH symbols of a slot with DL
    dmrs_re_per_prb: int = 12
    x_overhead: int = 0
    mcs_table: int = 1                 # 38.214 Table 5.1.3.1-1 (1) or -2 (2)
    scheduler: str = "rr"              # "rr" or "pf"
    max_ues_per_slot: int = 8
    pf_time_constant_slots: float = 100.0
    fixed_mcs: int = -1                # >= 0: link adaptation off
    bler_target: float = 0.1
    olla_step_db: float = 0.5
    csi_delay_slots: int = 4
    harq_max_tx: int = 4
    harq_processes: int = 16
    harq_feedback_slots: int = 4       # DL: PDSCH -> ACK/NACK at the gNB (K1)
    ul_harq_feedback_slots: int = 4    # UL: PUSCH -> the slot a retransmission may use (K2)
    gnb_tx_power_dbm: float = 43.0
    ue_tx_power_dbm: float = 23.0
    gnb_noise_figure_db: float = 5.0
    ue_noise_figure_db: float = 7.0
    noise_dbm_hz: float = -174.0
    carrier_hz: float = 3.5e9
    pathloss_model: str = "umi"        # "umi", "uma" (38.901 NLOS) or "log_distance"
    gnb_height_m: float = 10.0
    ue_height_m: float = 1.5
    pathloss_exponent: float = 3.0     # log_distance: free space at 1 m, then this exponent
    ues: list = field(default_factory=_default_ues)
    stream_port_base: int = UNIT_PORT
    num_streams: int = 8
    prompt_rlc_mode: str = "AM"
    stream_rlc_mode: str = "UM"
    default_rlc_mode: str = "AM"
    rlc_header_bytes: int = 4
    rlc_max_buffer_bytes: int = 1_000_000
    mtu: int = 1500


def _fail(name: str, message: str):
    raise ValueError(f"nr cell: {name}: {message}")


def as_spec(cell) -> CellSpec:
    """A CellSpec from a dict or dataclass, checked; errors are one line naming the field."""
    raw = spec_fields(cell, CellSpec, "nr cell")
    ues = []
    ue_known = {f.name for f in dataclasses.fields(UeSpec)}
    for i, u in enumerate(raw.pop("ues", None) or _default_ues()):
        u = dataclasses.asdict(u) if dataclasses.is_dataclass(u) else dict(u)
        if set(u) - ue_known:
            _fail(f"ues[{i}]", f"unknown settings {sorted(set(u) - ue_known)}")
        ues.append(UeSpec(**u))
    spec = CellSpec(ues=ues, **raw)
    if spec.numerology not in NUMEROLOGIES:
        _fail("numerology", f"{spec.numerology!r} is not one of {NUMEROLOGIES}")
    top = NR_MAX_PRB[spec.numerology]
    if not (isinstance(spec.n_prb, int) and 1 <= spec.n_prb <= top):
        _fail("n_prb", f"{spec.n_prb!r} is outside 1..{top} (38.101 maximum at "
                       f"{15 << spec.numerology} kHz SCS)")
    if spec.duplex != "FDD":
        bad = sorted(set(spec.duplex) - set("DUS"))
        if not spec.duplex or bad:
            _fail("duplex", f"{spec.duplex!r}: unknown TDD slot symbol {bad[0] if bad else ''!r} "
                            "(FDD, or a pattern of D, U, S)")
    if spec.s_slot_dl_symbols + spec.s_slot_guard_symbols + spec.s_slot_ul_symbols != 14:
        _fail("s_slot_dl_symbols", "S slot DL + guard + UL symbols must be 14")
    if spec.mcs_table not in (1, 2):
        _fail("mcs_table", f"{spec.mcs_table!r} is not 1 or 2")
    top_mcs = NR_MAX_MCS[spec.mcs_table]
    if not -1 <= spec.fixed_mcs <= top_mcs:
        _fail("fixed_mcs", f"{spec.fixed_mcs!r} is not -1 (link adaptation) or an MCS of table "
                           f"{spec.mcs_table} (0..{top_mcs})")
    for i, u in enumerate(spec.ues):
        if not -1 <= u.fixed_mcs <= top_mcs:
            _fail(f"ues[{i}].fixed_mcs", f"{u.fixed_mcs!r} is not -1 or an MCS of table "
                                         f"{spec.mcs_table} (0..{top_mcs})")
    if spec.scheduler not in SCHEDULERS:
        _fail("scheduler", f"{spec.scheduler!r} is not one of {SCHEDULERS}")
    for name in ("prompt_rlc_mode", "stream_rlc_mode", "default_rlc_mode"):
        if getattr(spec, name) not in RLC_MODES:
            _fail(name, f"{getattr(spec, name)!r} is not one of {RLC_MODES}")
    if spec.pathloss_model not in PATHLOSS_MODELS:
        _fail("pathloss_model", f"{spec.pathloss_model!r} is not one of {PATHLOSS_MODELS}")
    if not 0.0 < spec.bler_target < 1.0:
        _fail("bler_target", f"{spec.bler_target!r} is not in (0, 1)")
    if not 1 <= spec.harq_max_tx <= 16:
        _fail("harq_max_tx", f"{spec.harq_max_tx!r} is outside 1..16")
    if not spec.ues:
        _fail("ues", "the cell needs at least one UE")
    for i, u in enumerate(spec.ues):
        if u.pathloss_db is None and not u.distance_m > 0:
            _fail(f"ues[{i}].distance_m", f"{u.distance_m!r} is not > 0")
    return spec


def pathloss_db(spec: CellSpec, distance_m: float) -> float:
    """Path loss (dB) at a 2D distance: 38.901 Table 7.4.1-1 NLOS (max of the LOS and NLOS
    formulas, the LOS one below its breakpoint; no shadowing) for UMi street canyon or UMa, or
    free space at 1 m plus 10 n log10(d) (log_distance)."""
    fc_ghz = spec.carrier_hz / 1e9
    if spec.pathloss_model == "log_distance":
        free_1m = 20 * math.log10(4 * math.pi * spec.carrier_hz / SPEED_OF_LIGHT)
        return free_1m + 10 * spec.pathloss_exponent * math.log10(max(distance_m, 1.0))
    d3 = math.hypot(max(distance_m, 10.0), spec.gnb_height_m - spec.ue_height_m)
    if spec.pathloss_model == "umi":
        los = 32.4 + 21 * math.log10(d3) + 20 * math.log10(fc_ghz)
        nlos = 35.3 * math.log10(d3) + 22.4 + 21.3 * math.log10(fc_ghz) - 0.3 * (spec.ue_height_m - 1.5)
    else:
        los = 28.0 + 22 * math.log10(d3) + 20 * math.log10(fc_ghz)
        nlos = 13.54 + 39.08 * math.log10(d3) + 20 * math.log10(fc_ghz) - 0.6 * (spec.ue_height_m - 1.5)
    return max(los, nlos)


def prb_noise_dbm(spec: CellSpec, downlink: bool) -> float:
    """Noise power of one PRB at the receiver (dBm)."""
    nf = spec.ue_noise_figure_db if downlink else spec.gnb_noise_figure_db
    return spec.noise_dbm_hz + 10 * math.log10(12 * 15e3 * 2 ** spec.numerology) + nf


def pathloss_for_sinr(spec: CellSpec, sinr_db: float, downlink: bool = True, n_prb_ul: int = 1) -> float:
    """The path loss that gives a PRB this SINR without fading (DL: the gNB power over all
    PRBs; UL: the UE power over n_prb_ul PRBs)."""
    tx = (spec.gnb_tx_power_dbm - 10 * math.log10(spec.n_prb) if downlink
          else spec.ue_tx_power_dbm - 10 * math.log10(n_prb_ul))
    return tx - prb_noise_dbm(spec, downlink) - sinr_db


@dataclass
class NrCellNetwork:
    nodes: dict = field(default_factory=dict)       # "gnb", "ue0", "ue1", ... -> ns3::Node
    addresses: dict = field(default_factory=dict)   # same names -> ns3::Ipv4Address
    devices: dict = field(default_factory=dict)     # same names -> ns3::NrNetDevice
    ue_names: list = field(default_factory=list)
    stream_ports: list = field(default_factory=list)  # UDP port of RLC stream i
    pathloss_db: list = field(default_factory=list)   # per UE
    cell: object = None
    phy: object = None
    spec: CellSpec | None = None
    keep: list = field(default_factory=list)

    def set_fading(self, ue: int, gains_db, start_slot: int = 0) -> None:
        """A UE's fading trace: float dB gains [n_slots, n_prb] (n_prb = the cell's), looped."""
        g = np.ascontiguousarray(gains_db, dtype=np.float32)
        if g.ndim != 2:
            raise ValueError(f"nr cell: fading of UE {ue}: need [n_slots, n_prb], got shape {g.shape}")
        import cppyy  # noqa: PLC0415 - loaded with ns-3

        vec = cppyy.gbl.std.vector["float"](g.ravel())
        self.cell.SetFadingTrace(int(ue), vec, int(g.shape[0]), int(g.shape[1]), int(start_slot))

    def stats(self, downlink: bool, ue: int | None = None) -> dict:
        """Counters of a direction (of one UE if given), with the first-transmission and
        residual TB error rates and the mean packet delay (None where undefined)."""
        st = self.cell.GetStats(downlink) if ue is None else self.cell.GetUeStats(int(ue), downlink)
        d = {k: (float if k.endswith("S") else int)(getattr(st, k)) for k in _STAT_FIELDS}
        d["first_tx_bler"] = d["firstTxFailures"] / d["firstTx"] if d["firstTx"] else None
        d["residual_bler"] = d["residualLosses"] / d["firstTx"] if d["firstTx"] else None
        d["mean_delay_s"] = d["sduDelaySumS"] / d["sdusDelivered"] if d["sdusDelivered"] else None
        return d


def build_cell(ns, cell, seed: int, trace=None, stream_base: int = 4000, table_file=None,
               label: str = "gnb") -> NrCellNetwork:
    """gNB + UEs of one NR cell. `seed` selects the ns-3 run (RngSeedManager.SetRun); the
    cell's TB draws use random stream `stream_base`. trace: the packet trace (phy_ul_tb /
    phy_dl_tb rows as node `label`)."""
    spec = as_spec(cell)
    g = ns.cppyy.gbl.ns3
    ns.RngSeedManager.SetRun(int(seed))

    phy = ns.CreateObject[g.NrPhyAbstraction]()
    phy.SetAttribute("TableFile", ns.StringValue(str(table_file or ensure_nr_tables())))
    phy.Load()
    channel = ns.CreateObject[g.NrCellChannel]()
    channel.SetAttribute("Phy", ns.PointerValue(phy))
    for attr, value in (
            ("Numerology", ns.UintegerValue(spec.numerology)),
            ("NumPrb", ns.UintegerValue(spec.n_prb)),
            ("TddPattern", ns.StringValue(spec.duplex)),
            ("SSlotDlSymbols", ns.UintegerValue(spec.s_slot_dl_symbols)),
            ("SSlotGuardSymbols", ns.UintegerValue(spec.s_slot_guard_symbols)),
            ("SSlotUlSymbols", ns.UintegerValue(spec.s_slot_ul_symbols)),
            ("CtrlSymbols", ns.UintegerValue(spec.ctrl_symbols)),
            ("DmrsRePerPrb", ns.UintegerValue(spec.dmrs_re_per_prb)),
            ("XOverhead", ns.UintegerValue(spec.x_overhead)),
            ("McsTable", ns.UintegerValue(spec.mcs_table)),
            ("Scheduler", ns.StringValue(spec.scheduler)),
            ("MaxUesPerSlot", ns.UintegerValue(spec.max_ues_per_slot)),
            ("PfTimeConstant", ns.DoubleValue(spec.pf_time_constant_slots)),
            ("FixedMcs", ns.IntegerValue(spec.fixed_mcs)),
            ("BlerTarget", ns.DoubleValue(spec.bler_target)),
            ("OllaStepDb", ns.DoubleValue(spec.olla_step_db)),
            ("CsiDelaySlots", ns.UintegerValue(spec.csi_delay_slots)),
            ("HarqMaxTx", ns.UintegerValue(spec.harq_max_tx)),
            ("HarqProcesses", ns.UintegerValue(spec.harq_processes)),
            ("HarqFeedbackSlots", ns.UintegerValue(spec.harq_feedback_slots)),
            ("UlHarqFeedbackSlots", ns.UintegerValue(spec.ul_harq_feedback_slots)),
            ("GnbTxPowerDbm", ns.DoubleValue(spec.gnb_tx_power_dbm)),
            ("UeTxPowerDbm", ns.DoubleValue(spec.ue_tx_power_dbm)),
            ("GnbNoiseFigureDb", ns.DoubleValue(spec.gnb_noise_figure_db)),
            ("UeNoiseFigureDb", ns.DoubleValue(spec.ue_noise_figure_db)),
            ("NoiseDbmHz", ns.DoubleValue(spec.noise_dbm_hz)),
            ("StreamPortBase", ns.UintegerValue(spec.stream_port_base)),
            ("NumStreams", ns.UintegerValue(spec.num_streams)),
            ("PromptRlcMode", ns.StringValue(spec.prompt_rlc_mode)),
            ("StreamRlcMode", ns.StringValue(spec.stream_rlc_mode)),
            ("DefaultRlcMode", ns.StringValue(spec.default_rlc_mode)),
            ("RlcHeaderBytes", ns.UintegerValue(spec.rlc_header_bytes)),
            ("RlcMaxBufferBytes", ns.UintegerValue(spec.rlc_max_buffer_bytes))):
        channel.SetAttribute(attr, value)
    try:
        channel.Validate()
    except ns.cppyy.gbl.std.invalid_argument as e:  # a C++ one-liner naming the attribute
        raise ValueError(f"nr cell: {e.what()}") from None
    channel.AssignStreams(int(stream_base))
    if trace is not None:
        trace.ConnectNr(channel, label)

    names = ["gnb"] + [f"ue{i}" for i in range(len(spec.ues))]
    nodes = ns.NodeContainer()
    nodes.Create(len(names))
    internet = ns.InternetStackHelper()
    internet.Install(nodes)
    net = NrCellNetwork(cell=channel, phy=phy, spec=spec, ue_names=names[1:],
                        stream_ports=[spec.stream_port_base + i for i in range(spec.num_streams)])
    container = ns.NetDeviceContainer()
    for i, name in enumerate(names):
        dev = ns.CreateObject[g.NrNetDevice]()
        dev.SetAttribute("Mtu", ns.UintegerValue(spec.mtu))
        node = nodes.Get(i)
        node.AddDevice(dev)
        if i == 0:
            channel.AttachGnb(dev)
        else:
            ue = channel.AttachUe(dev)
            u = spec.ues[ue]
            pl = u.pathloss_db if u.pathloss_db is not None else pathloss_db(spec, u.distance_m)
            channel.SetPathLossDb(ue, float(pl))
            net.pathloss_db.append(float(pl))
            if u.fixed_mcs >= 0:
                channel.SetUeFixedMcs(ue, int(u.fixed_mcs))
        container.Add(dev)
        net.nodes[name] = node
        net.devices[name] = dev
    address = ns.Ipv4AddressHelper()
    address.SetBase(ns.Ipv4Address("10.78.0.0"), ns.Ipv4Mask("255.255.0.0"))
    ifs = address.Assign(container)
    net.addresses = {name: ifs.GetAddress(i) for i, name in enumerate(names)}
    net.keep += [nodes, internet, container, address, ifs]
    return net


# -- the channel of scenario lte_edge ------------------------------------------------------------

TRACE_EVENTS = ("phy_ul_tb", "phy_dl_tb")
UE_NETWORK = ("10.78.0.0", "255.255.0.0")  # build_cell's subnet
_RLC = {"per_stream": ("AM", "UM"), "am": ("AM", "AM"), "um": ("UM", "UM")}


def cell_spec(nr_cfg, distances_m: list[float], n_streams: int) -> CellSpec:
    """The CellSpec of config section `nr` for UEs at these distances."""
    prompt_rlc, stream_rlc = _RLC[nr_cfg.rlc]
    return as_spec({
        "numerology": nr_cfg.numerology, "n_prb": nr_cfg.bandwidth_prb, "duplex": nr_cfg.duplex,
        "mcs_table": nr_cfg.mcs_table, "scheduler": nr_cfg.scheduler, "fixed_mcs": nr_cfg.fixed_mcs,
        "bler_target": nr_cfg.bler_target, "harq_max_tx": nr_cfg.harq_max_tx, "carrier_hz": nr_cfg.carrier_hz,
        "gnb_tx_power_dbm": nr_cfg.gnb_tx_power_dbm, "ue_tx_power_dbm": nr_cfg.ue_tx_power_dbm,
        "gnb_noise_figure_db": nr_cfg.gnb_noise_figure_db, "ue_noise_figure_db": nr_cfg.ue_noise_figure_db,
        "pathloss_model": nr_cfg.pathloss_model, "ues": [{"distance_m": float(d)} for d in distances_m],
        "num_streams": max(1, n_streams), "prompt_rlc_mode": prompt_rlc, "stream_rlc_mode": stream_rlc,
        "default_rlc_mode": "AM"})


def build_network(ns, cfg, ues: list[tuple[str, float]], servers: list[str], trace) -> Network:
    """Any UEs (name, distance to the gNB in m) in the cell of section `nr`, and edge servers
    behind the gNB on backhaul links; the first server is the network's GenAI node."""
    spec = cell_spec(cfg.nr, [d for _, d in ues], len(cfg.app.streams))
    cell = build_cell(ns, spec, cfg.seed, trace=trace, label="gnb")
    net = Network(genai=servers[0], radio=cell)
    internet, routing, p2p = server_stack(ns, cell.nodes["gnb"], UE_NETWORK, net, servers, cfg.backhaul.rate,
                                          cfg.backhaul.delay_ms)
    gateway = cell.addresses["gnb"]
    for (name, _), ue_name in zip(ues, cell.ue_names):
        node = cell.nodes[ue_name]
        routing.GetStaticRouting(node.GetObject[ns.Ipv4]()).SetDefaultRoute(gateway, 1)
        net.nodes[name], net.addresses[name], net.devices[name] = node, cell.addresses[ue_name], cell.devices[ue_name]
    fading = _fading(cfg.nr, spec, cfg.seed, cell)
    n = cfg.nr
    net.info = {"nr": {
        "numerology": n.numerology, "scs_khz": 15 << n.numerology, "slot_ms": 1.0 / (1 << n.numerology),
        "bandwidth_prb": n.bandwidth_prb, "duplex": n.duplex, "mcs_table": n.mcs_table, "scheduler": n.scheduler,
        "link_adaptation": n.fixed_mcs < 0, "bler_target": n.bler_target, "harq_max_tx": n.harq_max_tx,
        "carrier_hz": n.carrier_hz, "pathloss_model": n.pathloss_model, "rlc": n.rlc, "fading": fading,
        "ues": {name: {"distance_m": d, "pathloss_db": round(pl, 2)} for (name, d), pl in zip(ues, cell.pathloss_db)}},
        "edge_servers": list(servers), "backhaul": {"rate": cfg.backhaul.rate, "delay_ms": cfg.backhaul.delay_ms}}
    net.keep += [cell, internet, routing, p2p]
    return net


def _fading(nr_cfg, spec: CellSpec, seed: int, cell: NrCellNetwork) -> dict:
    """One TDL trace for the run (Sionna, cached), each UE starting at its own offset."""
    f = nr_cfg.fading
    if f.model == "none":
        return {"model": "none"}
    n_slots = max(1, round(f.trace_s * 1000 * (1 << spec.numerology)))
    t = ensure_prb_gains(f.model, delay_spread_s=f.delay_spread_ns * 1e-9, speed_kmh=f.speed_kmh,
                         carrier_hz=spec.carrier_hz, numerology=spec.numerology, n_prb=spec.n_prb,
                         n_slots=n_slots, seed=seed)
    gains = load_prb_gains(t["path"])
    n_ues = len(spec.ues)
    for ue in range(n_ues):
        cell.set_fading(ue, gains, start_slot=ue * n_slots // n_ues)
    return {"model": f.model, "delay_spread_ns": f.delay_spread_ns, "speed_kmh": f.speed_kmh,
            "doppler_hz": round(t["doppler_hz"], 2), "trace_slots": n_slots, "trace": t["path"]}


def build(ns, cfg, trace) -> Network:
    """The semantic-unit network: the UEs of section `nr` and the edge server "es"."""
    net = build_network(ns, cfg, [(u.name, u.distance_m) for u in cfg.nr.ues], [EDGE_SERVER], trace)
    net.sources = [u.name for u in cfg.nr.ues if u.role == "source"]
    net.sink = next(u.name for u in cfg.nr.ues if u.role == "sink")
    return net


def ready(ns, cfg, net: Network, stream_bits: list[float], trace) -> None:
    """Nothing: the cell's TB trace is connected when it is built."""


def finish(net: Network) -> None:
    """The cell's own counters per direction (TBs, HARQ, RLC) into the network description."""
    net.info["nr"]["counters"] = {"dl": net.radio.stats(downlink=True), "ul": net.radio.stats(downlink=False)}


def phy_summary(packets: pd.DataFrame, info: dict) -> dict:
    """Per direction (ul / dl), from the packet trace: TBs, first-transmission BLER with its
    95 % interval, HARQ retransmissions, residual failures after the last HARQ round, mean MCS
    and effective SINR of first transmissions (analysis.lte_stats, which reads any TB trace)."""
    from gensemcom.analysis.lte_stats import tb_stats

    out = tb_stats(packets, max_retx=info["nr"]["harq_max_tx"] - 1)
    for direction, event in (("ul", "phy_ul_tb"), ("dl", "phy_dl_tb")):
        first = packets[(packets["event"] == event) & (packets["ndi"] == 1)]
        out[direction]["sinr_db_mean"] = float(first["sinr_db"].mean()) if len(first) else None
        out[direction].pop("empty_allocations", None)
    return out
