"""TDL fading per PRB and slot for the NR cell (gensemcom.channels.nr_fading): array layout,
mean gain, frequency and time correlation against theory from Sionna's own power-delay
profiles and Clarke's J0, the static channel at 0 km/h, LoS vs NLoS fades, seeding, the cache
under build/nr/fading (a hit never calls Sionna) and one-line errors for bad arguments."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import special

from gensemcom.channels import nr_fading as nf

SMALL = dict(delay_spread_s=100e-9, speed_kmh=30.0, carrier_hz=3.5e9, numerology=1, n_prb=8,
             n_slots=40, seed=1)
LONG = dict(carrier_hz=3.5e9, numerology=1, n_prb=106, n_slots=2000)  # the 2 s at mu=1


def _corr(x, y):
    x, y = x - x.mean(), y - y.mean()
    return (x * y).mean() / np.sqrt((x * x).mean() * (y * y).mean())


@pytest.mark.parametrize("profile", [*nf.PROFILES, "A", "E"])
def test_shape_dtype_layout(profile):
    gains = nf.prb_gains_db(profile, **SMALL)
    assert gains.shape == (SMALL["n_slots"], SMALL["n_prb"])
    assert gains.dtype == np.float32 and gains.flags.c_contiguous
    assert np.isfinite(gains).all() and gains.min() >= nf.GAIN_FLOOR_DB
    assert np.ptp(gains) > 1  # it fades


def test_normalised_mean_is_exactly_one_and_only_a_scale():
    gains = nf.prb_gains_db("TDL-C", **SMALL)
    assert (10 ** (gains.astype(float) / 10)).mean() == pytest.approx(1, rel=1e-5)
    raw = nf.prb_power("TDL-C", **SMALL)
    np.testing.assert_allclose(10 ** (gains / 10), raw / raw.mean(), rtol=1e-5)
    unnormalised = nf.prb_gains_db("TDL-C", **SMALL, normalise=False)
    np.testing.assert_allclose(10 ** (unnormalised / 10), raw, rtol=1e-5)


def test_model_mean_gain_is_one():
    """Sionna's PDP is normalised (E|H|^2 = 1), and the PRB average is a mean, not a sum, of
    its 12 subcarriers.  One 1 s trace at 120 km/h (389 Hz Doppler) still varies by about
    +-5 % in mean (the sum of sinusoids has slow beats between nearly mirrored sinusoids), so
    8 seeds are averaged: their spread gives about +-2 %, the tolerance is 6 %."""
    means = [nf.prb_power("TDL-C", delay_spread_s=300e-9, speed_kmh=120, seed=s, **LONG).mean()
             for s in range(8)]
    assert np.mean(means) == pytest.approx(1, abs=0.06)
    assert all(0.8 < m < 1.2 for m in means)


def _prb_power_correlation_theory(delay_spread_s, lag_prb, numerology=1):
    """Correlation coefficient of two PRBs' powers (each the mean |H|^2 of 12 subcarriers) for
    a Rayleigh TDL-A: cov(|H_i|^2, |H_j|^2) = |R(f_i - f_j)|^2, R(df) = sum_k p_k exp(-j 2 pi df
    tau_k), with the taps of Sionna's own TDL object."""
    from sionna.phy.channel.tr38901 import TDL  # noqa: PLC0415

    tdl = TDL("A", delay_spread=delay_spread_s, carrier_frequency=3.5e9, precision="double")
    tau, p = tdl.delays.numpy(), tdl.mean_powers.numpy()
    scs = nf.subcarrier_spacing_hz(numerology)
    f = np.arange(nf.SUBCARRIERS_PER_PRB) * scs

    def r2(df):
        return np.abs((p * np.exp(-2j * np.pi * np.multiply.outer(df, tau))).sum(-1)) ** 2

    lag_hz = lag_prb * nf.SUBCARRIERS_PER_PRB * scs
    return r2(np.subtract.outer(f + lag_hz, f)).mean() / r2(np.subtract.outer(f, f)).mean()


def test_frequency_correlation_falls_with_delay_spread():
    """PRBs 10 apart (3.6 MHz at mu = 1): power correlation 0.71 at 30 ns, 0.34 at 300 ns."""
    measured = {}
    for ds in (30e-9, 300e-9):
        power = nf.prb_power("TDL-A", delay_spread_s=ds, speed_kmh=120, seed=3, **LONG)
        measured[ds] = _corr(power[:, :-10].ravel(), power[:, 10:].ravel())
        assert measured[ds] == pytest.approx(_prb_power_correlation_theory(ds, 10), abs=0.05)
    assert measured[300e-9] < measured[30e-9] - 0.2


def test_time_correlation_falls_with_speed():
    """Power correlation of slots `lag` apart against Clarke's J0(2 pi f_d lag T_slot)^2 (0.5 ms
    slots at mu = 1, 3.5 GHz): at 3 km/h (f_d = 9.7 Hz) 0.993 at 4 slots and 0.44 at 40; at
    120 km/h (389 Hz) 0.44 at 1 slot and 0.05 at 4.  Tolerances from seeds 4-6 (a 1 s trace
    holds only ~10 Doppler periods at 3 km/h, hence 0.1 at 40 slots)."""
    measured = {}
    for speed, lags in ((3, {4: 0.01, 40: 0.1}), (120, {1: 0.05, 4: 0.05})):
        power = nf.prb_power("TDL-A", delay_spread_s=100e-9, speed_kmh=speed, seed=4, **LONG)
        f_d = nf.max_doppler_hz(speed, LONG["carrier_hz"])
        for lag, tolerance in lags.items():
            measured[speed, lag] = _corr(power[:-lag].ravel(), power[lag:].ravel())
            clarke = special.j0(2 * np.pi * f_d * lag * nf.slot_s(LONG["numerology"])) ** 2
            assert measured[speed, lag] == pytest.approx(clarke, abs=tolerance), (speed, lag)
    assert measured[120, 4] < measured[3, 4] - 0.5


def test_static_at_zero_speed():
    """Sionna's Doppler is 0: every slot is the same, still frequency-selective."""
    gains = nf.prb_gains_db("TDL-B", **{**SMALL, "speed_kmh": 0.0, "n_prb": 50})
    assert (gains == gains[0]).all()
    assert gains[0].std() > 1


def test_los_profile_fades_less_than_nlos():
    """TDL-A (NLoS) is Rayleigh: P(|H|^2 < 0.1) = 1 - exp(-0.1) = 0.095; TDL-D has a 13.3 dB
    K-factor on its first tap and almost never fades 10 dB."""
    deep = {p: (nf.prb_power(p, delay_spread_s=100e-9, speed_kmh=120, seed=5, **LONG) < 0.1)
            .mean() for p in ("TDL-A", "TDL-D")}
    assert deep["TDL-A"] == pytest.approx(1 - np.exp(-0.1), abs=0.015)
    assert deep["TDL-D"] < 0.01


def test_seeded():
    import torch  # noqa: PLC0415

    from sionna.phy import config  # noqa: PLC0415

    state, sionna_seed = torch.random.get_rng_state(), config.seed
    a = nf.prb_gains_db("TDL-A", **SMALL)
    try:  # neither torch's global RNG nor Sionna's config seed matters
        torch.manual_seed(12345)
        config.seed = 99
        b = nf.prb_gains_db("TDL-A", **SMALL)
    finally:
        config.seed = sionna_seed
        torch.random.set_rng_state(state)
    np.testing.assert_array_equal(a, b)
    c = nf.prb_gains_db("TDL-A", **{**SMALL, "seed": 2})
    assert np.abs(a - c).mean() > 1


def test_generation_leaves_torch_global_rng_alone():
    import torch  # noqa: PLC0415

    before = torch.random.get_rng_state()
    nf.prb_gains_db("TDL-A", **SMALL)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_cache(tmp_path, monkeypatch):
    info = nf.ensure_prb_gains("TDL-C", **SMALL, cache_dir=tmp_path)
    path = tmp_path / info["path"].rsplit("/", 1)[1]
    assert path.exists() and path.suffix == ".npy" and path.parent == tmp_path
    gains = nf.load_prb_gains(path)
    np.testing.assert_array_equal(gains, nf.prb_gains_db("TDL-C", **SMALL))
    assert (info["n_slots"], info["n_prb"]) == gains.shape
    assert info["slot_s"] == 0.5e-3 and info["trace_s"] == pytest.approx(SMALL["n_slots"] * 0.5e-3)
    assert info["doppler_hz"] == pytest.approx(30 / 3.6 / 299_792_458 * 3.5e9)
    # what a C++ reader does: n_slots * n_prb little-endian float32, row-major, at data_offset
    raw = np.fromfile(path, dtype="<f4", offset=info["data_offset"])
    np.testing.assert_array_equal(raw.reshape(gains.shape), gains)

    def no_sionna(*args, **kwargs):
        raise AssertionError("cache miss: Sionna called")

    monkeypatch.setattr(nf, "prb_gains_db", no_sionna)
    monkeypatch.setattr(nf, "prb_power", no_sionna)
    again = nf.ensure_prb_gains("TDL-C", **SMALL, cache_dir=tmp_path)
    assert again == info
    np.testing.assert_array_equal(nf.load_prb_gains(again["path"]), gains)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left

    for change in ({"seed": 2}, {"speed_kmh": 31.0}, {"delay_spread_s": 101e-9},
                   {"carrier_hz": 3.6e9}, {"numerology": 0}, {"n_prb": 9}, {"n_slots": 41}):
        assert nf.cache_path("TDL-C", **{**SMALL, **change}, cache_dir=tmp_path) != path
    assert nf.cache_path("TDL-C", **SMALL, normalise=False, cache_dir=tmp_path) != path
    assert nf.cache_path("TDL-A", **SMALL, cache_dir=tmp_path) != path
    assert nf.cache_path("C", **SMALL, cache_dir=tmp_path) == path


def test_cache_hit_imports_neither_torch_nor_sionna(tmp_path):
    info = nf.ensure_prb_gains("TDL-A", **SMALL, cache_dir=tmp_path)
    code = ("import sys; from gensemcom.channels import nr_fading as nf; "
            f"info = nf.ensure_prb_gains('TDL-A', **{SMALL!r}, cache_dir={str(tmp_path)!r}); "
            "gains = nf.load_prb_gains(info['path']); "
            "print(info['path'], gains.shape, 'torch' in sys.modules, 'sionna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [info["path"], "(40,", "8)", "False", "False"]


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GENSEMCOM_BUILD_DIR", str(tmp_path))
    assert nf.cache_path("TDL-A", **SMALL).parent == tmp_path / "nr" / "fading"


def test_load_rejects_other_files(tmp_path):
    np.save(tmp_path / "f64.npy", np.zeros((3, 4)))
    (tmp_path / "junk.npy").write_text("not numpy\n")
    for name in ("f64.npy", "junk.npy", "missing.npy"):
        with pytest.raises(ValueError) as e:
            nf.load_prb_gains(tmp_path / name)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("change, argument", [
    ({"profile": "TDL-F"}, "profile"), ({"profile": "tdl-a"}, "profile"),
    ({"profile": None}, "profile"),
    ({"speed_kmh": -1.0}, "speed_kmh"), ({"speed_kmh": float("nan")}, "speed_kmh"),
    ({"numerology": 4}, "numerology"), ({"numerology": -1}, "numerology"),
    ({"numerology": 1.0}, "numerology"),
    ({"n_prb": 0}, "n_prb"), ({"n_prb": 276}, "n_prb"),
    ({"delay_spread_s": 0.0}, "delay_spread_s"), ({"carrier_hz": -3.5e9}, "carrier_hz"),
    ({"n_slots": 0}, "n_slots"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
])
@pytest.mark.parametrize("function", [nf.prb_gains_db, nf.ensure_prb_gains])
def test_bad_arguments_are_one_line_errors(function, change, argument, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSEMCOM_BUILD_DIR", str(tmp_path))
    kwargs = {"profile": "TDL-A", **SMALL, **change}
    profile = kwargs.pop("profile")
    with pytest.raises(ValueError) as e:
        function(profile, **kwargs)
    assert str(e.value).startswith(argument) and "\n" not in str(e.value)
    assert not any(tmp_path.rglob("*"))


def test_two_second_trace_takes_seconds():
    nf.prb_gains_db("TDL-A", **SMALL)  # Sionna imported and warm
    start = time.perf_counter()
    gains = nf.prb_gains_db("TDL-C", delay_spread_s=300e-9, speed_kmh=120, seed=6, **LONG)
    assert gains.shape == (2000, 106)
    assert time.perf_counter() - start < 20  # ~0.3 s on one core
