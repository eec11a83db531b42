"""Packet-level Fig. 4 of the latency-aware paper: the prompt and the edge map sent over the
semantic link (C++ SemanticLinkNetDevice) with the power split of Lemma 1 / Table II, measured
per unit and set beside the analytic model (analysis/latency_aware.py).

Each operating point (average SNR, target BER, scheme, fading) is one small ns-3 simulation:
`units` units, each a prompt of |v0| bits on stream 0 (CRC + ARQ, Eq. 2-3) and an edge map of
|v1| bits on stream 1 (adaptive M-QAM, or the continuous Eq. 4 rate), spaced far enough apart
that no unit queues behind the previous one. Air time counts the payload only (the IP, UDP and
semantic headers are "uncounted", as the paper counts |v_i|), and the payload sizes are Table
I's, so the analytic and packet-level numbers describe the same bits.

Two analytic references:
  paper      the paper's model: every SNR at its mean (|h|^2 = 1). Exact for an AWGN link.
  fading     the same transmission with block Rayleigh fading averaged over |h|^2 ~ Exp(1):
             the prompt's ARQ success per attempt is q = E[1 - PER(gamma0 |h|^2)], so
             E[T0] = T_ef / q; the edge map's order (or rate) follows its own draw, and a block
             below the 4-QAM threshold waits `outage_wait_s` for a new draw. With the
             continuous rate under fading, E[T1] is infinite (deep fades carry almost no
             bits), so that case has no finite reference.
The measured latencies are per-stream means over units; the paper's latency max(T0, T1) of
the means is below the mean of max(T0, T1) whenever the random prompt delay can exceed T1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate

from gensemcom.analysis import latency_aware as la
from gensemcom.channels import semantic_link
from gensemcom.constants import PROTECTED_HEADER_BYTES, UNIT_PORT
from gensemcom.core import ns3, packet_trace
from gensemcom.core.records import read_row, write_row

HEADERS = PROTECTED_HEADER_BYTES  # protected and without air time
PORT = UNIT_PORT
SCHEMES = ("discrete", "continuous")
_STREAM_MODE = {"discrete": "mqam", "continuous": "rate"}


@dataclass(frozen=True)
class PointSpec:
    avg_snr_db: float
    ber: float
    scheme: str = "discrete"      # "discrete" (Table II's M-QAM) or "continuous" (Eq. 4 rate)
    fading: str = "awgn"          # "awgn" or "rayleigh"
    units: int = 200
    seed: int = 1
    outage_wait_s: float = 1e-3


def distance_for_avg_snr(avg_snr: float, p: la.LinkParams) -> float:
    """The UE distance at which avg_snr_at_distance gives avg_snr (inverse of Eq. 1)."""
    gain = avg_snr * p.total_bandwidth * la.from_db(p.n0_dbm_hz) * 1e-3 / p.p_total_w
    return (gain / la.from_db(p.pathloss_ref_db)) ** (-1.0 / p.pathloss_exp)


def allocation(spec: PointSpec, p: la.LinkParams) -> la.Allocation:
    g = la.from_db(spec.avg_snr_db)
    return la.solve_discrete(g, spec.ber, p) if spec.scheme == "discrete" else la.solve_lemma1(g, spec.ber, p)


def fading_expectations(spec: PointSpec, p: la.LinkParams, a: la.Allocation) -> dict:
    """E[T0], E[retransmissions], E[T1] and E[bits/symbol] under block Rayleigh fading for the
    powers of allocation a (see the module doc)."""
    g = la.from_db(spec.avg_snr_db)
    b0, b1 = p.bandwidths_hz
    g0 = la.stream_snr(a.prompt_share, g, b0, p)
    q = integrate.quad(lambda x: (1.0 - la.prompt_per(g0 * x, p)) * math.exp(-x), 0, math.inf, limit=200)[0]
    out = {"prompt_latency_ms": la.prompt_error_free_latency(p) / q * 1e3 if q > 0 else math.inf,
           "prompt_retx": 1.0 / q - 1.0 if q > 0 else math.inf,
           "edge_latency_ms": math.nan, "bits_per_symbol": math.nan}
    g1 = la.stream_snr(1.0 - a.prompt_share, g, b1, p)
    if g1 <= 0 or (spec.scheme == "discrete" and a.qam_order[0] == 0):
        return out
    bits, k = p.stream_bits[0], la._ber_factor(spec.ber, p)
    if spec.scheme == "continuous":
        # Rate log2(1 + gamma/K) per draw, never an outage. E[T1] = E[bits / (B log2(1 + c x))]
        # diverges (the integrand ~ 1/x at deep fades): the mean latency is infinite.
        bps = integrate.quad(lambda x: math.log2(1 + g1 * x / k) * math.exp(-x), 0, math.inf)[0]
        out.update(edge_latency_ms=math.inf, bits_per_symbol=bps)
        return out
    # Discrete: P(order = M) from the thresholds on |h|^2; E[T1] adds the outage waits.
    thresholds = [la.qam_threshold(m, spec.ber, p) / g1 for m in la.QAM_ORDERS]  # |h|^2 per order
    upper, probs = math.inf, {}
    for m, x in zip(la.QAM_ORDERS, thresholds):
        probs[m] = math.exp(-x) - (math.exp(-upper) if upper < math.inf else 0.0)
        upper = x
    sent = sum(probs.values())
    t_given_sent = sum(pm * la.stream_latency_qam(m, bits, b1) for m, pm in probs.items()) / sent
    outages = (1.0 - sent) / sent
    out.update(edge_latency_ms=(t_given_sent + outages * spec.outage_wait_s) * 1e3,
               bits_per_symbol=sum(pm * math.log2(m) for m, pm in probs.items()) / sent)
    return out


def measure_point(ns, spec: PointSpec, p: la.LinkParams) -> tuple[dict, pd.DataFrame]:
    """Run one operating point in ns-3: (summary row, per-unit rows)."""
    if spec.scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {spec.scheme!r}")
    a = allocation(spec, p)
    send_edge = spec.scheme == "continuous" or a.qam_order[0] > 0
    share1 = 1.0 - a.prompt_share
    # Table II gives the edge map exactly its threshold power; a hair more keeps the device's
    # threshold test on the same side as the solver's despite rounding.
    power1 = share1 * p.p_total_w * (1 + 1e-9)
    streams = [{"mode": "arq", "bandwidth_hz": p.bandwidths_hz[0], "power_w": a.prompt_share * p.p_total_w},
               {"mode": _STREAM_MODE[spec.scheme], "bandwidth_hz": p.bandwidths_hz[1],
                "power_w": max(power1, 1e-30), "target_ber": spec.ber}]
    link = {"distance_m": distance_for_avg_snr(la.from_db(spec.avg_snr_db), p), "fading": spec.fading,
            "pathloss_ref_db": p.pathloss_ref_db, "pathloss_exp": p.pathloss_exp, "n0_dbm_hz": p.n0_dbm_hz,
            "code_rate": p.code_rate, "prompt_qam": p.prompt_qam, "per_k": p.per_k, "per_b": p.per_b,
            "alpha": p.alpha, "beta": p.beta, "protected_bytes": HEADERS, "uncounted_bytes": HEADERS,
            "outage_wait_s": spec.outage_wait_s, "streams": streams, "max_attempts": 100_000}
    # ns-3's default seed, random streams numbered from 0: a point draws the same in a fresh
    # worker as after other points; its run number is spec.seed (build_link).
    trace = ns3.reset(ns, 1)
    net = semantic_link.build_link(ns, link, seed=spec.seed, trace=trace)
    prompt_bytes, edge_bytes = p.prompt_bits // 8, math.ceil(p.stream_bits[0] / 8)
    # One packet per stream (so a stream is one fading block, one ARQ packet of L = |v0| bits).
    kw = {"segment_bytes": max(prompt_bytes, edge_bytes), "rate": int(1e12), "unit_timeout_s": 3600.0, "trace": trace}
    src = ns3.install_semantic_app(ns, net.nodes["tx"], "src", **kw)
    dst = ns3.install_semantic_app(ns, net.nodes["rx"], "dst", listen_port=PORT, num_ports=2, **kw)
    n_streams = 2 if send_edge else 1
    rng = np.random.default_rng(spec.seed)
    prompt = rng.integers(0, 256, prompt_bytes, dtype=np.uint8).tobytes()
    edge = rng.integers(0, 256, edge_bytes, dtype=np.uint8).tobytes()
    expected_ms = max(a.latency_s * 1e3, 0.1) if math.isfinite(a.latency_s) else 100.0
    interval = max(0.01, 20 * expected_ms / 1e3)
    t_send = [0.01 + k * interval for k in range(spec.units)]
    for k, t in enumerate(t_send):
        src.SendStream(ns.Seconds(t), net.addresses["rx"], PORT, k, 0, n_streams, prompt)
        if send_edge:
            src.SendStream(ns.Seconds(t), net.addresses["rx"], PORT + 1, k, 1, n_streams, edge)
    ns.Simulator.Stop(ns.Seconds(t_send[-1] + max(1.0, 100 * interval)))
    ns.Simulator.Run()
    stats = net.stats("tx")
    packets = packet_trace.table(trace)
    ns.Simulator.Destroy()
    ns3.keep_alive((src, dst, net))

    rx = packets[(packets["event"] == "link_rx") & (packets["node"] == "rx")]
    arrival = rx.groupby(["unit", "stream"])["time_s"].max().unstack()
    units = pd.DataFrame({"unit": range(spec.units), "t_send": t_send})
    units["prompt_latency_ms"] = (arrival.get(0).reindex(units["unit"]).to_numpy() - units["t_send"]) * 1e3
    units["edge_latency_ms"] = ((arrival.get(1).reindex(units["unit"]).to_numpy() - units["t_send"]) * 1e3
                                if send_edge and 1 in arrival else np.nan)
    units["latency_ms"] = units[["prompt_latency_ms", "edge_latency_ms"]].max(axis=1)
    # Bits/symbol of each edge-map block: its payload over its air time (one packet per unit).
    started = packets[(packets["event"] == "link_tx") & (packets["stream"] == 1) & (packets["node"] == "tx")]
    if send_edge and 1 in arrival:
        air = arrival[1] - started.groupby("unit")["time_s"].min()
        units["bits_per_symbol"] = (8 * edge_bytes / (air * p.bandwidths_hz[1])).reindex(units["unit"]).to_numpy()
    else:
        units["bits_per_symbol"] = np.nan
    prompt_attempts = packets[(packets["event"].isin(["link_tx", "link_retx"])) & (packets["stream"] == 0)
                            & (packets["node"] == "tx")].groupby("unit").size()
    units["prompt_retx"] = prompt_attempts.reindex(units["unit"]).to_numpy() - 1
    for key, value in spec.__dict__.items():
        units[key] = value

    def mean_ci(col):
        v = units[col].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            return math.nan, math.nan
        return float(v.mean()), float(1.96 * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan

    s1 = stats.get(1, {})
    fad = fading_expectations(spec, p, a)
    row = {**spec.__dict__, "prompt_share": a.prompt_share,
           "qam_order": a.qam_order[0] if a.qam_order else None,
           "delivered_units": int(units["latency_ms"].notna().sum()),
           "paper_prompt_latency_ms": a.prompt_latency_s * 1e3,
           "paper_edge_latency_ms": a.stream_latency_s[0] * 1e3 if send_edge else math.nan,
           "paper_latency_ms": a.latency_s * 1e3, "paper_prompt_retx": a.prompt_retransmissions,
           "paper_bits_per_symbol": a.bits_per_symbol[0] if send_edge else math.nan,
           **{f"fading_{k}": v for k, v in fad.items()},
           "edge_ber": s1.get("ber") if send_edge else None}
    for col in ("prompt_latency_ms", "edge_latency_ms", "latency_ms", "prompt_retx", "bits_per_symbol"):
        row[col], row[f"{col}_ci95"] = mean_ci(col)
    return row, units


def measure_point_task(out, spec: dict, latency_aware: dict) -> None:
    """measure_point as a sweep task (campaign.tasks): row.json and units.parquet in `out`."""
    from gensemcom.config import LatencyAwareConfig

    row, units = measure_point(ns3.load_ns(), PointSpec(**spec), la.link_params(LatencyAwareConfig(**latency_aware)))
    write_row(out / "row.json", row)
    units.to_parquet(out / "units.parquet", index=False)


def read_point(folder) -> tuple[dict, pd.DataFrame]:
    """What measure_point_task wrote: (row, units)."""
    return read_row(folder / "row.json"), pd.read_parquet(folder / "units.parquet")


def reference(row: dict) -> str:
    """Which analytic model a measured point is compared with: the paper's under AWGN (where it
    is exact), the fading-averaged one under Rayleigh."""
    return "paper" if row["fading"] == "awgn" else "fading"


def agreement(row: dict) -> dict:
    """Relative gaps (measured / analytic - 1) of the per-stream latencies and retransmissions."""
    ref = reference(row)
    pairs = {"prompt_latency": ("prompt_latency_ms", f"{ref}_prompt_latency_ms"),
             "edge_latency": ("edge_latency_ms", f"{ref}_edge_latency_ms"),
             "bits_per_symbol": ("bits_per_symbol", f"{ref}_bits_per_symbol")}
    out = {}
    for name, (m, a) in pairs.items():
        mv, av = row.get(m), row.get(a)
        out[name] = (mv / av - 1.0) if mv is not None and av and np.isfinite(mv) and np.isfinite(av) else None
    return out
