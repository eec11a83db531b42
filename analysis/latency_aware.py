"""Latency-aware multi-stream transmission (paper: latency-aware-generative-semcom.md).

Stream 0 is the prompt, sent in CRC-protected packets with ARQ (Eq. 2-3). Streams 1..I are
conditioning signals sent with adaptive M-QAM at a target BER (Eq. 4). Power is split to
minimise the latest stream's delay (problem 5, Lemma 1).

SNRs are linear unless a name ends in _db. The average SNR of the paper's Section III-E is
    avg_snr = P_T E|h|^2 / ((B_0 + B_1 + ...) N_0),
so a stream with power share s_i = p_i / P_T and bandwidth B_i sees
    gamma_i = s_i * avg_snr * B_total / B_i          (|h|^2 at its mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from scipy.optimize import brentq

from gensemcom.constants import TABLE_I

# Modulation orders of the conditioning stream in Table II (0 = do not send it).
QAM_ORDERS = (64, 16, 4)


@dataclass(frozen=True)
class LinkParams:
    """Table I of the paper. The prompt size |v0| is not given there: 624 bits is the ~78-byte
    prompt our extractor produces (the paper's Fig. 3 prompt, 0.0024 bpp, is of that order)."""

    prompt_bits: int = TABLE_I["prompt_bits"]       # |v0|; Table I sets the packet length L = |v0|
    code_rate: float = TABLE_I["code_rate"]         # r, convolutional code
    prompt_qam: int = TABLE_I["prompt_qam"]         # M0 (QPSK)
    per_k: float = TABLE_I["per_k"]                 # {k, b} of Eq. (2)
    per_b: float = TABLE_I["per_b"]
    alpha: float = TABLE_I["alpha"]                 # {alpha, beta} of Eq. (4)
    beta: float = TABLE_I["beta"]
    p_total_w: float = TABLE_I["p_total_w"]         # P_T
    pathloss_ref_db: float = TABLE_I["pathloss_ref_db"]  # epsilon_0 at d0 = 1 m
    pathloss_exp: float = TABLE_I["pathloss_exp"]   # phi
    n0_dbm_hz: float = TABLE_I["n0_dbm_hz"]
    bandwidths_hz: tuple[float, ...] = (TABLE_I["bandwidth_hz"],) * 2   # B_0 (prompt), B_1..B_I
    stream_bits: tuple[int, ...] = (TABLE_I["edge_map_bits"],)          # |v_1|..|v_I| (edge map ~7.86 kbit)

    @property
    def packet_bits(self) -> int:
        return self.prompt_bits

    @property
    def total_bandwidth(self) -> float:
        return float(sum(self.bandwidths_hz))


def db(x: float) -> float:
    return 10.0 * math.log10(x)


def from_db(x_db: float) -> float:
    return 10.0 ** (x_db / 10.0)


def avg_snr_at_distance(d_m: float, p: LinkParams) -> float:
    """avg_snr = P_T eps0 d^-phi / (B_total N0) (|h~|^2 has unit mean)."""
    gain = from_db(p.pathloss_ref_db) * d_m ** (-p.pathloss_exp)
    n0_w_hz = from_db(p.n0_dbm_hz) * 1e-3
    return p.p_total_w * gain / (p.total_bandwidth * n0_w_hz)


def stream_snr(share: float, avg_snr: float, bandwidth: float, p: LinkParams) -> float:
    return share * avg_snr * p.total_bandwidth / bandwidth


# --- Prompt: CRC packets + ARQ --------------------------------------------------------------
def prompt_per(gamma0: float, p: LinkParams) -> float:
    """Eq. (2): PER ~ 1 - L^(-k/gamma) exp(-b/gamma), clipped to [0, 1]."""
    if gamma0 <= 0:
        return 1.0
    # Log domain: L^(-k/g) exp(-b/g) = exp(-(k ln L + b) / g), no overflow at small g.
    success = math.exp(min(0.0, -(p.per_k * math.log(p.packet_bits) + p.per_b) / gamma0))
    return 1.0 - success


def prompt_min_snr(success: float, p: LinkParams) -> float:
    """Smallest gamma0 with 1 - PER >= success (inverse of Eq. 2; success in (0, 1))."""
    # ln(1 - PER) = -(k ln L + b) / gamma  =>  gamma = (k ln L + b) / -ln(success)
    return (p.per_k * math.log(p.packet_bits) + p.per_b) / -math.log(success)


def prompt_error_free_latency(p: LinkParams) -> float:
    """eta_P * eta_T of Eq. (3): the prompt's delay without retransmissions, its lower bound."""
    packets = p.prompt_bits / (p.code_rate * p.packet_bits)
    per_packet = p.packet_bits / (math.log2(p.prompt_qam) * p.bandwidths_hz[0])
    return packets * per_packet


def prompt_latency(gamma0: float, p: LinkParams) -> float:
    """Eq. (3): T0 = (|v0| / (r L)) * 1 / (1 - PER) * L / (log2(M0) B0)."""
    success = 1.0 - prompt_per(gamma0, p)
    return math.inf if success <= 0 else prompt_error_free_latency(p) / success


def expected_retransmissions(gamma0: float, p: LinkParams) -> float:
    """eta_R - 1: expected extra transmissions of each prompt packet."""
    success = 1.0 - prompt_per(gamma0, p)
    return math.inf if success <= 0 else 1.0 / success - 1.0


# --- Conditioning streams: adaptive M-QAM -----------------------------------------------------
def _ber_factor(ber: float, p: LinkParams) -> float:
    """-ln(beta BER) / alpha: the SNR gap of M-QAM at that BER (Goldsmith)."""
    return -math.log(p.beta * ber) / p.alpha


def mqam_rate(gamma: float, ber: float, bandwidth: float, p: LinkParams) -> float:
    """Eq. (4), continuous rate in bit/s."""
    return bandwidth * math.log2(1.0 + gamma / _ber_factor(ber, p))


def qam_threshold(order: int, ber: float, p: LinkParams) -> float:
    """SNR at which M-QAM meets the BER: Eq. (4) solved for log2(M) bits/symbol."""
    return (order - 1) * _ber_factor(ber, p)


def stream_latency_qam(order: int, bits: int, bandwidth: float) -> float:
    """Delay of a stream at log2(M) bits/symbol, one symbol per second per Hz."""
    return bits / (math.log2(order) * bandwidth)


# --- Lemma 1 (I = 1): continuous rate ------------------------------------------------------
@dataclass
class Allocation:
    avg_snr_db: float
    prompt_share: float            # p0 / P_T
    latency_s: float               # max over streams
    prompt_latency_s: float
    stream_latency_s: list[float] = field(default_factory=list)
    bits_per_symbol: list[float] = field(default_factory=list)
    qam_order: list[int] = field(default_factory=list)   # discrete version only (0: not sent)
    prompt_retransmissions: float = 0.0


def solve_lemma1(avg_snr: float, ber: float, p: LinkParams) -> Allocation:
    """I = 1, continuous rate: p0 + p1 = P_T and T0(p0) = T1(p1) (Lemma 1), by bisection on
    the prompt share (T0 falls and T1 rises with it)."""
    b0, b1 = p.bandwidths_hz[0], p.bandwidths_hz[1]

    def t0(s):
        return prompt_latency(stream_snr(s, avg_snr, b0, p), p)

    def t1(s):
        rate = mqam_rate(stream_snr(1.0 - s, avg_snr, b1, p), ber, b1, p)
        return math.inf if rate <= 0 else p.stream_bits[0] / rate

    lo, hi = 1e-12, 1.0 - 1e-12
    if t0(hi) > t1(hi):  # even all power cannot bring the prompt below the edge map
        share = hi
    else:
        share = brentq(lambda s: math.log(t0(s)) - math.log(t1(s)), lo, hi, xtol=1e-14)
    gamma0 = stream_snr(share, avg_snr, b0, p)
    gamma1 = stream_snr(1.0 - share, avg_snr, b1, p)
    bps = math.log2(1.0 + gamma1 / _ber_factor(ber, p))
    return Allocation(db(avg_snr), share, max(t0(share), t1(share)), t0(share), [t1(share)], [bps],
                      prompt_retransmissions=expected_retransmissions(gamma0, p))


# --- Discrete M (Table II) ---------------------------------------------------------------
def min_avg_snr_for_order(order: int, ber: float, p: LinkParams) -> float:
    """Smallest average SNR at which M-QAM meets the BER on the edge map while the prompt (with
    the remaining power) is done within the edge map's delay, i.e. T = T1(M):
        gamma1 = s1 g Bt/B1 >= thr(M),  gamma0 = s0 g Bt/B0 >= gamma0_min,  s0 + s1 = 1
        =>  g >= (thr(M) B1 + gamma0_min B0) / Bt."""
    b0, b1 = p.bandwidths_hz[0], p.bandwidths_hz[1]
    t1 = stream_latency_qam(order, p.stream_bits[0], b1)
    success = prompt_error_free_latency(p) / t1      # 1 - PER needed for T0 <= T1
    if success >= 1.0:
        return math.inf                    # the prompt cannot finish in time at any power
    gamma0_min = prompt_min_snr(success, p)
    return (qam_threshold(order, ber, p) * b1 + gamma0_min * b0) / p.total_bandwidth


def solve_discrete(avg_snr: float, ber: float, p: LinkParams,
                   orders: tuple[int, ...] = QAM_ORDERS) -> Allocation:
    """Table II's policy: the largest order whose range contains avg_snr, i.e. the edge map meets
    its BER and the prompt, with the remaining power, finishes within T1(M). Below every range
    the edge map is not sent (order 0, prompt only, all power). Within a range the edge map gets
    exactly its threshold power: more would not shorten T1(M), and the prompt gets the rest."""
    b0, b1 = p.bandwidths_hz[0], p.bandwidths_hz[1]
    for order in sorted(orders, reverse=True):
        if avg_snr >= min_avg_snr_for_order(order, ber, p):
            share1 = qam_threshold(order, ber, p) * b1 / (avg_snr * p.total_bandwidth)
            gamma0 = stream_snr(1.0 - share1, avg_snr, b0, p)
            t0, t1 = prompt_latency(gamma0, p), stream_latency_qam(order, p.stream_bits[0], b1)
            return Allocation(db(avg_snr), 1.0 - share1, max(t0, t1), t0, [t1], [math.log2(order)],
                              [order], expected_retransmissions(gamma0, p))
    gamma0 = stream_snr(1.0, avg_snr, b0, p)
    t0 = prompt_latency(gamma0, p)
    return Allocation(db(avg_snr), 1.0, t0, t0, [math.inf], [0.0], [0], expected_retransmissions(gamma0, p))


def baseline_latency(avg_snr: float, p: LinkParams, ber: float = 1e-7) -> float:
    """Semantic-unaware benchmark: prompt and edge map as one stream with full power and
    bandwidth, adaptive M-QAM (Eq. 4) at the BER the prompt needs (1e-7 in the paper)."""
    bits = p.prompt_bits + sum(p.stream_bits)
    return bits / mqam_rate(avg_snr, ber, p.total_bandwidth, p)


def fig4_curves(p: LinkParams, bers=(1e-6, 1e-5, 1e-4), snr_db=None) -> list[dict]:
    """Fig. 4 equivalents vs average SNR: prompt power share, latency, edge-map bits/symbol and
    expected prompt retransmissions, for the continuous-rate and discrete-M allocations, plus
    the single-stream baseline's latency."""
    snr_db = list(snr_db if snr_db is not None else [x / 2 for x in range(0, 61)])
    rows = []
    for s_db in snr_db:
        g = from_db(s_db)
        rows.append({"avg_snr_db": s_db, "scheme": "baseline (single stream, BER 1e-7)", "ber": 1e-7,
                     "latency_ms": baseline_latency(g, p) * 1e3, "prompt_share": None,
                     "bits_per_symbol": math.log2(1.0 + g / _ber_factor(1e-7, p)), "prompt_retx": None})
        for ber in bers:
            for scheme, a in (("multi-stream, continuous rate", solve_lemma1(g, ber, p)),
                              ("multi-stream, discrete M (Table II)", solve_discrete(g, ber, p))):
                rows.append({"avg_snr_db": s_db, "scheme": scheme, "ber": ber, "latency_ms": a.latency_s * 1e3,
                             "prompt_share": a.prompt_share, "bits_per_symbol": a.bits_per_symbol[0],
                             "prompt_retx": a.prompt_retransmissions})
    return rows


def crossover_db(rows: list[dict], ber: float) -> float | None:
    """Highest average SNR at which the continuous multi-stream scheme is faster than the baseline."""
    base = {r["avg_snr_db"]: r["latency_ms"] for r in rows if r["scheme"].startswith("baseline")}
    wins = [r["avg_snr_db"] for r in rows if r["scheme"] == "multi-stream, continuous rate"
            and r["ber"] == ber and r["latency_ms"] < base[r["avg_snr_db"]]]
    return max(wins) if wins else None


def table2(p: LinkParams, bers=(1e-6, 1e-5, 1e-4), grid_db: float = 0.2,
           max_db: float = 30.0) -> list[dict]:
    """Table II: for each target BER and order, the average-SNR range in which that order is
    the largest with T = T1(M) (lower end rounded up to the grid, as the paper's 0.2 dB steps),
    the edge map's SNR threshold and the latency."""
    rows = []
    for ber in bers:
        upper = max_db
        for order in (*sorted(QAM_ORDERS, reverse=True), 0):
            if order:
                raw = db(min_avg_snr_for_order(order, ber, p))
                lower = math.ceil(round(raw / grid_db, 9)) * grid_db
                gamma1 = db(qam_threshold(order, ber, p))
                t_ms = stream_latency_qam(order, p.stream_bits[0], p.bandwidths_hz[1]) * 1e3
            else:
                raw = lower = gamma1 = t_ms = None
            rows.append({"ber": ber, "order": order, "avg_snr_max_db": round(upper, 6),
                         "avg_snr_min_db": None if lower is None else round(lower, 6),
                         "avg_snr_min_exact_db": raw, "gamma1_db": gamma1, "latency_ms": t_ms})
            if lower is not None:
                upper = lower - grid_db
    return rows


# The paper's Table II (columns: BER 1e-6, 1e-5, 1e-4 for the (CLIP, MS-SSIM) targets
# (0.999, 0.991), (0.997, 0.982), (0.978, 0.918)): order -> [(max, min, gamma1)] and T (ms).
PAPER_TABLE2 = {
    64: ([(30, 24.2, 27), (30, 23.4, 26), (30, 22.2, 25)], 1.31),
    16: ([(24, 18, 21), (23.2, 17.2, 20), (22, 16, 19)], 1.97),
    4: ([(17.8, 11.2, 14), (17, 10.4, 13), (15.8, 9.4, 12)], 3.93),
    0: ([(11, None, None), (10.2, None, None), (9.2, None, None)], None),
}
PAPER_BERS = (1e-6, 1e-5, 1e-4)


def paper_cell(ber: float, order: int) -> dict | None:
    """The paper's Table II cell for this BER column and order, or None for other BERs."""
    if ber not in PAPER_BERS:
        return None
    cells, t_ms = PAPER_TABLE2[order]
    hi, lo, gamma1 = cells[PAPER_BERS.index(ber)]
    return {"avg_snr_max_db": hi, "avg_snr_min_db": lo, "gamma1_db": gamma1, "latency_ms": t_ms}


# --- General I >= 1 (continuous rates) -----------------------------------------------------
def min_shares(t: float, avg_snr: float, bers: list[float], p: LinkParams) -> list[float]:
    """Smallest power share of each stream that finishes it within t (each T_i falls with p_i)."""
    b0 = p.bandwidths_hz[0]
    success = prompt_error_free_latency(p) / t
    shares = [math.inf if success >= 1.0 else prompt_min_snr(success, p) * b0 / (avg_snr * p.total_bandwidth)]
    for ber, bits, bw in zip(bers, p.stream_bits, p.bandwidths_hz[1:]):
        # T_i = bits / (B log2(1 + gamma / K)) <= t  <=>  gamma >= K (2^(bits / (B t)) - 1)
        exponent = bits / (bw * t)
        gamma = math.inf if exponent > 1000 else _ber_factor(ber, p) * math.expm1(exponent * math.log(2))
        shares.append(gamma * bw / (avg_snr * p.total_bandwidth))
    return shares


def solve_general(avg_snr: float, bers: list[float], p: LinkParams) -> Allocation:
    """Problem (5) for any number of conditioning streams, continuous rates. At the optimum every
    stream ends at the same t (otherwise power could move to the slowest one), so solve
    sum_i share_i(t) = 1 for t with scipy's brentq on the closed-form inverses of T_i."""
    n = len(p.bandwidths_hz)
    if len(bers) != n - 1 or len(p.stream_bits) != n - 1:
        raise ValueError(f"need one BER and one size per conditioning stream ({n - 1})")

    def excess(log_t: float) -> float:  # log of the total share needed; 0 at the optimum
        return min(700.0, math.log(sum(min_shares(math.exp(log_t), avg_snr, bers, p))))

    # No latency is below the prompt's error-free time (its share -> inf there): bracket from it.
    lo, hi = math.log(prompt_error_free_latency(p)) + 1e-12, math.log(1e6)
    log_t = brentq(excess, lo, hi, xtol=1e-13)
    t = math.exp(log_t)
    shares = min_shares(t, avg_snr, bers, p)
    gamma0 = stream_snr(shares[0], avg_snr, p.bandwidths_hz[0], p)
    stream_lat = []
    bps = []
    for i, (ber, bits) in enumerate(zip(bers, p.stream_bits), start=1):
        rate = mqam_rate(stream_snr(shares[i], avg_snr, p.bandwidths_hz[i], p), ber, p.bandwidths_hz[i], p)
        stream_lat.append(bits / rate)
        bps.append(rate / p.bandwidths_hz[i])
    t0 = prompt_latency(gamma0, p)
    return Allocation(db(avg_snr), shares[0], max([t0, *stream_lat]), t0, stream_lat, bps,
                      prompt_retransmissions=expected_retransmissions(gamma0, p))


# --------------------------------------------------------------------------- Table II vs the paper

def link_params(section) -> LinkParams:
    """LinkParams from a config's `latency_aware` section (Table I by default)."""
    c = section
    return LinkParams(prompt_bits=c.prompt_bits, code_rate=c.code_rate, prompt_qam=c.prompt_qam,
                      per_k=c.per_k, per_b=c.per_b, alpha=c.alpha, beta=c.beta, p_total_w=c.p_total_w,
                      pathloss_ref_db=c.pathloss_ref_db, pathloss_exp=c.pathloss_exp, n0_dbm_hz=c.n0_dbm_hz,
                      bandwidths_hz=tuple(c.bandwidth_hz), stream_bits=(c.edge_map_bits,))


def with_paper_values(rows: list[dict]) -> pd.DataFrame:
    """Add the paper's cell to each row of one of the paper's BER columns, and whether our
    average-SNR range equals it."""
    for r in rows:
        cell = paper_cell(r["ber"], r["order"]) or {}
        for key in ("avg_snr_max_db", "avg_snr_min_db", "gamma1_db", "latency_ms"):
            r[f"paper_{key}"] = cell.get(key)
        r["range_equal_to_paper"] = (None if not cell else
                                     (r["avg_snr_max_db"], r["avg_snr_min_db"]) == (cell["avg_snr_max_db"], cell["avg_snr_min_db"]))
    return pd.DataFrame(rows)


def _cell(hi, lo, g1) -> str:
    if lo is None or pd.isna(lo):
        return f"{hi:g} >= g"
    return f"{hi:g} >= g >= {lo:g} (g1={g1:.0f})"


def format_table2(df: pd.DataFrame) -> str:
    """Table II as text: ours | the paper's, per order M and BER target."""
    lines = ["Table II: average SNR range g [dB] per edge-map order M and BER target; "
             "ours | paper", ""]
    for order in df["order"].unique():
        lines.append(f"M = {order}")
        for _, r in df[df["order"] == order].iterrows():
            ours = _cell(r.avg_snr_max_db, r.avg_snr_min_db, r.gamma1_db)
            paper = ("-" if r.paper_avg_snr_max_db is None
                     else _cell(r.paper_avg_snr_max_db, r.paper_avg_snr_min_db, r.paper_gamma1_db))
            t = "" if pd.isna(r.latency_ms) else f"  T = {r.latency_ms:.2f} ms"
            paper_t = "" if r.paper_latency_ms is None else f" (paper {r.paper_latency_ms} ms)"
            lines.append(f"  BER {r.ber:.0e}: {ours:<32} | {paper:<32}{t}{paper_t}")
    return "\n".join(lines)
