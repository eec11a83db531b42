"""The semantic link of a run (channel "semantic_link"): its ns-3 network in the runner's shape
(source "tx", GenAI receiver "rx" that is also the sink) and the power allocation of the
latency-aware paper for the run's streams."""

from __future__ import annotations

import math
from dataclasses import replace

from gensemcom.analysis import latency_aware as la
from gensemcom.config import Config
from gensemcom.scenarios import lte_edge, semantic_link
from gensemcom.table2 import link_params

HEADERS = 20 + 8 + 28  # IPv4 + UDP + SemanticHeader: protected, as the paper counts |v_i| only


def params(cfg: Config, stream_bits: list[float]) -> la.LinkParams:
    """Table I (section latency_aware) with this run's streams: |v0| and the conditioning sizes
    are the mean sizes the encoder produced."""
    s = cfg.semantic_link
    return replace(link_params(cfg), prompt_bits=max(8, round(stream_bits[0])), p_total_w=s.power_w,
                   bandwidths_hz=(s.bandwidth_hz,) * len(stream_bits),
                   stream_bits=tuple(max(8, round(b)) for b in stream_bits[1:]))


def allocate(cfg: Config, stream_bits: list[float]) -> tuple[list[float], list[str], la.Allocation | None]:
    """(power per stream in W, device mode per stream, the analytic allocation or None)."""
    s, p = cfg.semantic_link, params(cfg, stream_bits)
    n, g = len(stream_bits), la.from_db(s.avg_snr_db)
    if n == 1:
        return [s.power_w], ["arq"], None
    if s.allocation == "equal":
        return [s.power_w / n] * n, ["arq"] + ["rate"] * (n - 1), None
    if s.allocation == "table2":
        a = la.solve_discrete(g, s.target_ber, p)
        share1 = 1.0 - a.prompt_share
        # The edge map gets exactly its threshold power; a hair more keeps the device's threshold
        # test on the solver's side despite rounding.
        return [a.prompt_share * s.power_w, share1 * s.power_w * (1 + 1e-9)], ["arq", "mqam"], a
    a = la.solve_general(g, [s.target_ber] * (n - 1), p)
    shares = la._min_shares(a.latency_s, g, [s.target_ber] * (n - 1), p)
    total = sum(shares)
    return [x / total * s.power_w for x in shares], ["arq"] + ["rate"] * (n - 1), a


def build(ns, cfg: Config, trace=None) -> tuple[lte_edge.Network, semantic_link.SemanticLinkNetwork]:
    """tx -> rx over the semantic link, at the distance of the configured average SNR; the
    stream powers are placeholders until set_powers() (they depend on the encoded sizes).
    trace: a SemanticTraceSink that logs both devices' events."""
    s, n = cfg.semantic_link, len(cfg.app.streams)
    p = params(cfg, [8.0] * n)
    gain = la.from_db(s.avg_snr_db) * p.total_bandwidth * la.from_db(p.n0_dbm_hz) * 1e-3 / p.p_total_w
    distance = (gain / la.from_db(p.pathloss_ref_db)) ** (-1.0 / p.pathloss_exp)
    streams = [{"mode": "arq" if i == 0 else "rate", "bandwidth_hz": s.bandwidth_hz, "power_w": s.power_w / n,
                "target_ber": s.target_ber} for i in range(n)]
    link = semantic_link.build(ns, {
        "distance_m": distance, "fading": s.fading, "pathloss_ref_db": p.pathloss_ref_db,
        "pathloss_exp": p.pathloss_exp, "n0_dbm_hz": p.n0_dbm_hz, "code_rate": p.code_rate,
        "prompt_qam": p.prompt_qam, "per_k": p.per_k, "per_b": p.per_b, "alpha": p.alpha, "beta": p.beta,
        "protected_bytes": HEADERS, "uncounted_bytes": HEADERS, "coherence_s": s.coherence_s,
        "streams": streams, "max_attempts": 10_000}, seed=cfg.seed, trace=trace)
    info = {"channel": "semantic_link", "distance_m": distance, "avg_snr_db": s.avg_snr_db,
            "fading": s.fading, "allocation": s.allocation, "target_ber": s.target_ber}
    net = lte_edge.Network(nodes=dict(link.nodes), addresses=dict(link.addresses), sources=["tx"],
                           sink="rx", genai="rx", info=info, keep=[link])
    return net, link


def set_powers(cfg: Config, link: semantic_link.SemanticLinkNetwork, stream_bits: list[float]) -> dict:
    """Apply the allocation for these stream sizes to both devices; returns it for the summary."""
    powers, modes, a = allocate(cfg, stream_bits)
    for dev in link.devices.values():
        for sid, (pw, mode) in enumerate(zip(powers, modes)):
            dev.SetStream(sid, float(cfg.semantic_link.bandwidth_hz), float(pw), mode,
                          float(cfg.semantic_link.target_ber))
    return {"stream_bits": stream_bits, "powers_w": powers, "modes": modes,
            "analytic_latency_ms": a.latency_s * 1e3 if a and math.isfinite(a.latency_s) else None,
            "analytic_prompt_retx": a.prompt_retransmissions if a else None}


def link_summary(link: semantic_link.SemanticLinkNetwork) -> dict:
    """Per-stream counters of the transmitter (attempts, realised BER, outages, ...)."""
    return {str(k): v for k, v in link.stats("tx").items()}
