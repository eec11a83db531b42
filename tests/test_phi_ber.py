"""Phi(BER) measurement helpers: bit-error injection rate, summaries, the generalised inverse."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gensemcom.analysis import phi_ber


@pytest.mark.parametrize("ber", [1e-4, 1e-2, 0.3])
def test_injected_flip_rate_matches_ber(ber):
    data = bytes(20_000)
    rng = np.random.default_rng(7)
    got, flips = phi_ber.inject_bit_errors(data, ber, rng, protected_bytes=100)
    bits = np.unpackbits(np.frombuffer(got, np.uint8))
    assert bits[:800].sum() == 0  # protected bytes untouched
    assert bits.sum() == flips
    n = (20_000 - 100) * 8
    # Two-sided binomial test at 1e-4: fails only if the rate is wrong (or once in 10^4 seeds).
    assert stats.binomtest(flips, n, ber).pvalue > 1e-4


def test_flip_positions_are_uniform_over_the_payload():
    rng = np.random.default_rng(1)
    counts = np.zeros(64)
    for _ in range(400):
        got, _ = phi_ber.inject_bit_errors(bytes(8), 0.1, rng)
        counts += np.unpackbits(np.frombuffer(got, np.uint8))
    assert stats.chisquare(counts).pvalue > 1e-3


def test_zero_ber_is_identity_and_bad_ber_rejected():
    data = bytes(range(256))
    assert phi_ber.inject_bit_errors(data, 0.0, np.random.default_rng(0)) == (data, 0)
    with pytest.raises(ValueError):
        phi_ber.inject_bit_errors(data, 1.5, np.random.default_rng(0))


def _rows(values_by_ber, fmt="raw"):
    rows = []
    for ber, values in values_by_ber.items():
        for k, v in enumerate(values):
            rows.append({"image": k, "seed": 0, "condition": "prompt_edge", "format": fmt, "ber": ber,
                         "decoded": True, "semantic_metric": "clip_substitute", "semantic": v, "ms_ssim": v})
    return pd.DataFrame(rows)


def test_summary_ci_and_generalised_inverse():
    rows = _rows({1e-6: [0.9, 0.9, 0.9], 1e-4: [0.8, 0.8, 0.8], 1e-2: [0.6, 0.6, 0.6]})
    s = phi_ber.summarise(rows)
    assert list(s["semantic"]) == pytest.approx([0.9, 0.8, 0.6])
    assert list(s["semantic_ci95"]) == pytest.approx([0, 0, 0])
    # 0.85 lies half-way between 1e-6 and 1e-4 on a log axis.
    assert phi_ber.max_ber_for(s, 0.85, "raw") == pytest.approx(1e-5)
    assert phi_ber.max_ber_for(s, 0.95, "raw") is None
    assert phi_ber.max_ber_for(s, 0.5, "raw") == pytest.approx(1e-2)
    assert phi_ber.monotonicity(s) == []


def test_monotonicity_flags_a_significant_rise_only():
    noisy = _rows({1e-6: [0.70, 0.72, 0.71], 1e-4: [0.90, 0.91, 0.92]})
    assert len(phi_ber.monotonicity(phi_ber.summarise(noisy))) == 1
    within_ci = _rows({1e-6: [0.6, 0.9, 0.75], 1e-4: [0.7, 0.95, 0.8]})
    assert phi_ber.monotonicity(phi_ber.summarise(within_ci)) == []
