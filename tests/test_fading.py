"""Statistical and I/O checks of the LTE fading-trace generator."""

import importlib.util
import pathlib
import re

import numpy as np
import pytest
from scipy import special, stats

try:
    from gensemcom.channels import fading
except ImportError:  # package not installed yet: load the module by path
    _p = pathlib.Path(__file__).resolve().parents[1] / "ns3-scenarios" / "python" / "fading.py"
    _spec = importlib.util.spec_from_file_location("fading", _p)
    fading = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(fading)


def _power(trace_db):
    return 10 ** (trace_db / 10)


@pytest.fixture
def flat(monkeypatch):
    """A single-tap profile, so |H|^2 is one Rayleigh tap's power."""
    monkeypatch.setitem(fading.PROFILES, "FLAT", {"delays_ns": [0], "powers_db": [0.0]})
    return "FLAT"


def test_file_round_trip_is_rb_major(tmp_path):
    trace = fading.fading_trace_db("EVA", 30, 6, 1.0, seed=1)
    path = tmp_path / "t.fad"
    fading.write_ns3_trace(trace, path)
    # Parse like ns-3's LoadTrace: a flat stream of doubles, RB-major.
    values = np.array(path.read_text().split(), dtype=float)
    assert values.size == 6 * 1000
    np.testing.assert_allclose(values.reshape(6, 1000), trace, rtol=0, atol=5.1e-5)


@pytest.mark.parametrize("profile", ["EPA", "EVA", "ETU"])
def test_mean_power_is_0_db(profile):
    power = _power(fading.fading_trace_db(profile, 120, 100, 10.0, seed=2))
    # Only ~10^3 independent fades per RB and RBs are correlated (EPA): 0.2 dB
    # still catches any normalisation slip (EPA taps unnormalised: +4.9 dB).
    assert abs(10 * np.log10(power.mean())) < 0.2


def test_single_tap_power_is_exponential(flat):
    # 300 km/h: f_d ~ 590 Hz, so 10 s holds thousands of independent fades.
    power = _power(fading.fading_trace_db(flat, 300, 6, 10.0, seed=3)[0])
    assert stats.kstest(power, "expon").statistic < 0.03


def test_multipath_rb_power_is_exponential():
    power = _power(fading.fading_trace_db("ETU", 300, 25, 10.0, seed=4)[10])
    assert stats.kstest(power, "expon").statistic < 0.03


@pytest.mark.slow
def test_tap_autocorrelation_is_j0():
    doppler, dt = 50.0, 1e-3
    gains = fading.rayleigh_gains(64, doppler, 10_000, dt, np.random.default_rng(5))
    assert abs(np.mean(np.abs(gains) ** 2) - 1) < 0.05
    for lag in (1, 3, 5, 8, 12):
        r = np.mean(gains[:, lag:] * np.conj(gains[:, :-lag]))
        assert abs(r.real - special.j0(2 * np.pi * doppler * lag * dt)) < 0.015
        assert abs(r.imag) < 0.015


def test_trace_power_correlation_follows_speed(flat):
    # For a Rayleigh tap the power autocorrelation coefficient is J0^2, which
    # ties speed_kmh and carrier_hz through to the trace.  Lags stay where J0^2
    # is large so the estimate (one 10 s realisation) is well above its noise.
    doppler = fading.max_doppler_hz(60, 2.12e9)
    assert doppler == pytest.approx(117.8, abs=0.1)
    power = _power(fading.fading_trace_db(flat, 60, 6, 10.0, seed=6)[0])
    for lag in (1, 2, 3):
        rho = np.corrcoef(power[lag:], power[:-lag])[0, 1]
        assert rho == pytest.approx(special.j0(2 * np.pi * doppler * lag * 1e-3) ** 2, abs=0.06)


def _expected_power_corr(profile, rb_gap):
    """|R(df)|^2: power correlation of two RBs for a Rayleigh tapped delay line."""
    taps = fading.PROFILES[profile]
    p = 10 ** (np.asarray(taps["powers_db"]) / 10)
    tau = np.asarray(taps["delays_ns"]) * 1e-9
    return abs(np.sum(p * np.exp(-2j * np.pi * rb_gap * 180e3 * tau)) / p.sum()) ** 2


def test_frequency_selectivity_epa_vs_etu():
    corr = {}
    for profile in ("EPA", "ETU"):
        power = _power(fading.fading_trace_db(profile, 300, 25, 10.0, seed=7))
        corr[profile] = np.corrcoef(power[0], power[24])[0, 1]
        assert corr[profile] == pytest.approx(_expected_power_corr(profile, 24), abs=0.07)
    # The theoretical gap at 24 RBs is only 0.30 vs 0.21 (ETU's correlation is
    # not monotonic in frequency), hence the high speed for a precise estimate.
    assert corr["EPA"] > corr["ETU"]


@pytest.mark.parametrize("profile,rb_gap", [("EPA", 10), ("EVA", 2), ("ETU", 5)])
def test_rb_power_correlation_matches_delay_profile(profile, rb_gap):
    power = _power(fading.fading_trace_db(profile, 300, 25, 10.0, seed=8))
    rho = np.corrcoef(power[0], power[rb_gap])[0, 1]
    assert rho == pytest.approx(_expected_power_corr(profile, rb_gap), abs=0.05)


def test_zero_speed_is_static_but_frequency_selective():
    trace = fading.fading_trace_db("ETU", 0, 25, 1.0, seed=9)
    # Constant in time up to float rounding (a threaded BLAS may sum columns in another order).
    assert np.abs(trace - trace[:, :1]).max() < 1e-9
    assert np.ptp(trace[:, 0]) > 3


def test_seed_determinism():
    a = fading.fading_trace_db("EPA", 5, 6, 1.0, seed=10)
    b = fading.fading_trace_db("EPA", 5, 6, 1.0, seed=10)
    c = fading.fading_trace_db("EPA", 5, 6, 1.0, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_ensure_fading_trace_caches(tmp_path):
    info = fading.ensure_fading_trace(tmp_path, "EVA", 60, 15, 2.0, seed=12)
    assert info == {"path": info["path"], "TraceLength_s": 2.0, "SamplesNum": 2000,
                    "RbNum": 15, "WindowSize_s": 0.5}
    path = pathlib.Path(info["path"])
    assert len(path.read_text().split()) == 15 * 2000
    assert info["WindowSize_s"] < info["TraceLength_s"]
    mtime = path.stat().st_mtime_ns
    assert fading.ensure_fading_trace(tmp_path, "EVA", 60, 15, 2.0, seed=12) == info
    assert path.stat().st_mtime_ns == mtime
    other = fading.ensure_fading_trace(tmp_path, "EVA", 60, 15, 2.0, seed=13)
    assert other["path"] != info["path"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, pathlib.Path(other["path"]).name])  # no temp files left


@pytest.mark.parametrize("kwargs,message", [
    ({"profile": "XYZ"}, "unknown fading profile 'XYZ'; known profiles: EPA, ETU, EVA"),
    ({"n_rb": 7}, "n_rb=7"),
    ({"duration_s": 0.5}, "duration_s=0.5"),
    ({"speed_kmh": -3}, "speed_kmh"),
    ({"carrier_hz": 0}, "carrier_hz"),
])
def test_bad_inputs_raise(kwargs, message, tmp_path):
    args = {"profile": "EPA", "speed_kmh": 3, "n_rb": 6, "duration_s": 1.0, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        fading.fading_trace_db(**args)
    with pytest.raises(ValueError, match=re.escape(message)):
        fading.ensure_fading_trace(tmp_path, **args)
    assert not any(tmp_path.iterdir())


def test_write_rejects_non_2d(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        fading.write_ns3_trace(np.zeros(5), tmp_path / "x.fad")
