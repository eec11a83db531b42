"""Latency-aware scheme: Eq. (2)-(4) against closed forms, the Lemma 1 solvers against brute
force, and the Table II reproduction against the paper."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gensemcom.analysis import latency_aware as la

P = la.LinkParams()
ROOT = Path(__file__).resolve().parents[1]


def test_per_closed_forms():
    # Eq. (2): 1 - PER = exp(-(k ln L + b) / gamma).
    c = P.per_k * math.log(P.packet_bits) + P.per_b
    assert la.prompt_per(c / math.log(2), P) == pytest.approx(0.5)
    assert la.prompt_per(1e9, P) == pytest.approx(0.0, abs=1e-8)
    assert la.prompt_per(1e-6, P) == pytest.approx(1.0)
    assert la.prompt_per(0.0, P) == 1.0
    for success in (0.1, 0.5, 0.99):
        assert 1 - la.prompt_per(la.prompt_min_snr(success, P), P) == pytest.approx(success)


def test_prompt_latency_eq3():
    # eta_P = |v0| / (r L) = 2 packets, eta_T = L / (2 B0): error-free floor 2 * 312 us.
    assert la.prompt_latency(1e12, P) == pytest.approx(2 * 624 / (2 * 1e6))
    gamma = 3.0
    assert la.prompt_latency(gamma, P) == pytest.approx(0.624e-3 / (1 - la.prompt_per(gamma, P)))
    assert la.expected_retransmissions(gamma, P) == pytest.approx(1 / (1 - la.prompt_per(gamma, P)) - 1)


@pytest.mark.parametrize("order", [4, 16, 64])
@pytest.mark.parametrize("ber", [1e-6, 1e-5, 1e-4])
def test_mqam_rate_reaches_log2m_at_threshold(order, ber):
    gamma = la.qam_threshold(order, ber, P)
    assert la.mqam_rate(gamma, ber, 1e6, P) == pytest.approx(math.log2(order) * 1e6)


def test_table2_thresholds_and_latency_match_the_paper():
    expected = {1e-6: (27, 21, 14), 1e-5: (26, 20, 13), 1e-4: (25, 19, 12)}
    for ber, gammas in expected.items():
        got = [round(la.db(la.qam_threshold(m, ber, P))) for m in (64, 16, 4)]
        assert got == list(gammas)
    lat = [round(la.stream_latency_qam(m, 7860, 1e6) * 1e3, 2) for m in (64, 16, 4)]
    assert lat == [1.31, 1.97, 3.93]


def test_table2_ranges_against_the_paper():
    differing = []
    for r in la.table2(P):
        cell = la.paper_cell(r["ber"], r["order"])
        ours, paper = (r["avg_snr_max_db"], r["avg_snr_min_db"]), (cell["avg_snr_max_db"], cell["avg_snr_min_db"])
        if ours != paper:
            differing.append((r["ber"], r["order"], ours, paper))
    # One boundary differs by one 0.2 dB grid step: M=4 at BER 1e-4 starts at 9.12 dB here (so
    # 9.2 on the grid) and at 9.4 in the paper, which shifts the M=0 row's upper end likewise.
    assert differing == [(1e-4, 4, (15.8, 9.2), (15.8, 9.4)), (1e-4, 0, (9.0, None), (9.2, None))]


def _brute_force_i1(avg_snr, ber, n=200_001):
    shares = np.linspace(1e-6, 1 - 1e-6, n)
    best = math.inf
    for s in shares:
        t0 = la.prompt_latency(la.stream_snr(s, avg_snr, 1e6, P), P)
        t1 = 7860 / la.mqam_rate(la.stream_snr(1 - s, avg_snr, 1e6, P), ber, 1e6, P)
        best = min(best, max(t0, t1))
    return best


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0, 30.0])
def test_lemma1_is_optimal_and_balanced(snr_db):
    avg = la.from_db(snr_db)
    a = la.solve_lemma1(avg, 1e-5, P)
    assert a.prompt_latency_s == pytest.approx(a.stream_latency_s[0], rel=1e-9)  # T0 = T1
    assert a.latency_s <= _brute_force_i1(avg, 1e-5, n=20_001) * (1 + 1e-9)
    g = la.solve_general(avg, [1e-5], P)  # the general solver agrees with the I = 1 system
    assert g.prompt_share == pytest.approx(a.prompt_share, rel=1e-6)
    assert g.latency_s == pytest.approx(a.latency_s, rel=1e-9)


def test_general_solver_two_conditioning_streams_vs_brute_force():
    p = la.LinkParams(bandwidths_hz=(1e6, 1e6, 0.5e6), stream_bits=(7860, 3000))
    avg, bers = la.from_db(15.0), [1e-5, 1e-3]
    g = la.solve_general(avg, bers, p)
    assert g.prompt_latency_s == pytest.approx(g.stream_latency_s[0], rel=1e-8)
    assert g.stream_latency_s[0] == pytest.approx(g.stream_latency_s[1], rel=1e-8)
    best = math.inf
    grid = np.linspace(0.001, 0.998, 400)
    for s0 in grid:
        for s1 in grid[grid < 1 - s0]:
            s2 = 1 - s0 - s1
            lat = [la.prompt_latency(la.stream_snr(s0, avg, 1e6, p), p),
                   7860 / la.mqam_rate(la.stream_snr(s1, avg, 1e6, p), bers[0], 1e6, p),
                   3000 / la.mqam_rate(la.stream_snr(s2, avg, 0.5e6, p), bers[1], 0.5e6, p)]
            best = min(best, max(lat))
    assert g.latency_s <= best * (1 + 1e-9)
    assert g.latency_s >= best * 0.98  # the grid gets within 2 % of the optimum


@pytest.mark.parametrize("snr_db", [8.0, 10.0, 12.0, 17.5, 23.0, 24.15, 28.0])
def test_discrete_policy_vs_brute_force(snr_db):
    """Brute force over orders and power shares: the largest order for which some split meets
    the BER and lets the prompt finish within T1(M); latency T1(M). Prompt only if none."""
    avg = la.from_db(snr_db)
    d = la.solve_discrete(avg, 1e-5, P)
    feasible = []
    for order in (4, 16, 64):
        t1 = la.stream_latency_qam(order, 7860, 1e6)
        for s0 in np.linspace(1e-5, 1.0, 20001):
            if (la.stream_snr(1 - s0, avg, 1e6, P) >= la.qam_threshold(order, 1e-5, P)
                    and la.prompt_latency(la.stream_snr(s0, avg, 1e6, P), P) <= t1):
                feasible.append(order)
                break
    expected = max(feasible, default=0)
    assert d.qam_order == [expected]
    if expected:
        assert d.latency_s == pytest.approx(la.stream_latency_qam(expected, 7860, 1e6))
        assert d.prompt_latency_s <= d.latency_s
    else:
        assert d.latency_s == pytest.approx(la.prompt_latency(la.stream_snr(1.0, avg, 1e6, P), P))


def test_baseline_and_crossover():
    # One stream of 624 + 7860 bits over 2 MHz at BER 1e-7, full power.
    g = la.from_db(10.0)
    k = -math.log(5 * 1e-7) / 1.5
    assert la.baseline_latency(g, P) == pytest.approx(8484 / (2e6 * math.log2(1 + g / k)))
    rows = la.fig4_curves(P, snr_db=[x / 2 for x in range(0, 61)])
    # Paper: the multi-stream scheme is faster at low SNR, below ~12 dB. Here: up to 13.5 dB
    # (BER 1e-4) and 10.5 dB (1e-5); at 1e-6 the edge map's own BER costs more than it saves.
    assert la.crossover_db(rows, 1e-4) == 13.5
    assert la.crossover_db(rows, 1e-5) == 10.5
    assert la.crossover_db(rows, 1e-6) is None
    # More SNR never means more latency, and the prompt needs a smaller power share.
    cont = [r for r in rows if r["scheme"] == "multi-stream, continuous rate" and r["ber"] == 1e-5]
    assert all(a["latency_ms"] >= b["latency_ms"] for a, b in zip(cont, cont[1:]))
    assert all(a["prompt_share"] >= b["prompt_share"] for a, b in zip(cont, cont[1:]))


def test_avg_snr_from_table1_distance():
    # P_T = 10 mW, eps0 = -30 dB, phi = 3.4, N0 = -174 dBm/Hz over 2 MHz, at 100 m:
    # 10 dBm - 30 - 68 dB - (-174 + 63.01) dBm = 23.0 dB
    assert la.db(la.avg_snr_at_distance(100.0, P)) == pytest.approx(10 - 30 - 68 + 174 - 10 * math.log10(2e6), abs=1e-9)


@pytest.mark.slow
def test_run_table2_config_writes_csv(tmp_path):
    cfg = json.loads((ROOT / "configs" / "gen_semcom_table2.json").read_text())
    cfg["output_dir"] = str(tmp_path)
    path = tmp_path / "t2.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)], capture_output=True,
                          text=True, timeout=120, check=True)
    assert "ranges equal to the paper: 10 of 12" in proc.stdout
    out = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    summary = json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert [(r["ber"], r["order"]) for r in summary["differing"]] == [(1e-4, 4), (1e-4, 0)]
    import pandas as pd

    df = pd.read_csv(out / "table2.csv")
    assert len(df) == 12 and {"avg_snr_min_db", "paper_avg_snr_min_db", "latency_ms"} <= set(df.columns)
    curves = pd.read_parquet(out / "fig4_analytic.parquet")
    assert set(curves["scheme"]) == {"baseline (single stream, BER 1e-7)", "multi-stream, continuous rate",
                                     "multi-stream, discrete M (Table II)"}
    assert (out / "fig4_analytic.png").stat().st_size > 10_000
