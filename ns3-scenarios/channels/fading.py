"""LTE fast-fading traces for ns-3's ``ns3::TraceFadingLossModel``.

The ns-3 PyPI wheel ships no fading traces (the ``.fad`` files of
``src/lte/model/fading-traces`` are not packaged) and nothing can be
downloaded, so this module synthesises them the way ns-3's own
``fading_trace_generator.m`` does: a 3GPP TS 36.104 Annex B tapped delay line
whose taps are independent Rayleigh processes with a Jakes Doppler spectrum,
evaluated at the centre of every resource block (RB).

Usage with ns-3 (attribute names are those of TraceFadingLossModel)::

    t = ensure_fading_trace("results/fading", "EVA", 60, n_rb=25,
                            duration_s=10, seed=1)
    lte_helper.SetFadingModel("ns3::TraceFadingLossModel")
    lte_helper.SetFadingModelAttribute("TraceFilename", StringValue(t["path"]))
    lte_helper.SetFadingModelAttribute("TraceLength", TimeValue(Seconds(t["TraceLength_s"])))
    lte_helper.SetFadingModelAttribute("SamplesNum", UintegerValue(t["SamplesNum"]))
    lte_helper.SetFadingModelAttribute("WindowSize", TimeValue(Seconds(t["WindowSize_s"])))
    lte_helper.SetFadingModelAttribute("RbNum", UintegerValue(t["RbNum"]))

``RbNum`` must be at least the cell bandwidth in RBs: ns-3 indexes the trace
by sub-channel of the received PSD.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from gensemcom.core.paths import write_atomically

SPEED_OF_LIGHT = 299_792_458.0  # m/s
RB_BANDWIDTH_HZ = 180e3
LTE_N_RB = (6, 15, 25, 50, 75, 100)  # 1.4, 3, 5, 10, 15, 20 MHz
MIN_DURATION_S = 1.0
WINDOW_SIZE_S = 0.5  # ns-3's default; it must stay below TraceLength
NS3_SAMPLE_S = 1e-3  # ns-3 derives its granularity with integer ms arithmetic
N_SINUSOIDS = 64  # per tap; keeps a 10 s trace's statistics within ~0.02 of Rayleigh/J0
_FORMAT_VERSION = 1  # bump when the generator changes, to invalidate caches

# 3GPP TS 36.104 Annex B.2 (Tables B.2-2..B.2-4). Add entries to model other
# tapped delay lines; powers are relative and normalised on use.
PROFILES: dict[str, dict] = {
    "EPA": {
        "delays_ns": [0, 30, 70, 90, 110, 190, 410],
        "powers_db": [0.0, -1.0, -2.0, -3.0, -8.0, -17.2, -20.8],
    },
    "EVA": {
        "delays_ns": [0, 30, 150, 310, 370, 710, 1090, 1730, 2510],
        "powers_db": [0.0, -1.5, -1.4, -3.6, -0.6, -9.1, -7.0, -12.0, -16.9],
    },
    "ETU": {
        "delays_ns": [0, 50, 120, 200, 230, 500, 1600, 2300, 5000],
        "powers_db": [-1.0, -1.0, -1.0, 0.0, 0.0, 0.0, -3.0, -5.0, -7.0],
    },
}


def max_doppler_hz(speed_kmh: float, carrier_hz: float) -> float:
    """Maximum Doppler shift f_d = v / c * f_c."""
    return speed_kmh / 3.6 / SPEED_OF_LIGHT * carrier_hz


def rayleigh_gains(n_paths: int, doppler_hz: float, n_samples: int,
                   sample_s: float, rng: np.random.Generator) -> np.ndarray:
    """Independent unit-power Rayleigh processes with a Jakes spectrum.

    Each path is a sum of ``N_SINUSOIDS`` complex exponentials with
    independent uniform phases and Doppler shifts f_d*cos(alpha_n), where the
    arrival angles alpha_n = pi*(n + u)/N, n = 0..N-1, stratify the half
    circle [0, pi) with a random offset u per path (Zheng & Xiao style).
    Averaged over u, (1/pi) * integral_0^pi exp(j x cos a) da = J0(x), so the
    autocorrelation is exactly J0(2 pi f_d tau) and I/Q are uncorrelated.
    The half circle, rather than the full one, gives every sinusoid of a path
    a distinct frequency: mirrored angles +-alpha share a Doppler shift, and
    for unlucky seeds that made one trace file visibly non-Rayleigh.

    Returns a complex array of shape (n_paths, n_samples).
    """
    offsets = rng.uniform(0, 1, size=(n_paths, 1))
    phases = rng.uniform(-np.pi, np.pi, size=(n_paths, N_SINUSOIDS))
    angles = np.pi * (np.arange(N_SINUSOIDS) + offsets) / N_SINUSOIDS
    freqs = doppler_hz * np.cos(angles)  # Hz, per path and sinusoid
    t = np.arange(n_samples) * sample_s
    gains = np.empty((n_paths, n_samples), dtype=complex)
    for p in range(n_paths):  # one path at a time bounds memory to N x T
        arg = np.outer(2 * np.pi * freqs[p], t) + phases[p, :, None]
        gains[p] = np.exp(1j * arg).sum(axis=0)
    return gains / np.sqrt(N_SINUSOIDS)


def _check_args(profile: str, speed_kmh: float, n_rb: int,
                duration_s: float, carrier_hz: float, sample_s: float) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown fading profile {profile!r}; "
                         f"known profiles: {', '.join(sorted(PROFILES))}")
    if not np.isfinite(speed_kmh) or speed_kmh < 0:
        raise ValueError(f"speed_kmh must be a finite value >= 0, got {speed_kmh}")
    if n_rb not in LTE_N_RB:
        raise ValueError(f"n_rb={n_rb} is not an LTE bandwidth; "
                         f"choose one of {LTE_N_RB}")
    if not duration_s >= MIN_DURATION_S:
        raise ValueError(f"duration_s={duration_s} is too short: ns-3 needs at "
                         f"least {MIN_DURATION_S} s so that its "
                         f"{WINDOW_SIZE_S} s window fits in the trace")
    if not carrier_hz > 0:
        raise ValueError(f"carrier_hz must be > 0, got {carrier_hz}")
    if not sample_s > 0:
        raise ValueError(f"sample_s must be > 0, got {sample_s}")


def fading_trace_db(profile: str, speed_kmh: float, n_rb: int,
                    duration_s: float, seed: int, carrier_hz: float = 2.12e9,
                    sample_s: float = 1e-3) -> np.ndarray:
    """Fading gain 10*log10(|H(f_k, t)|^2) in dB, shape (n_rb, n_samples).

    f_k is the centre of RB k relative to the band edge; the mean of |H|^2 is
    1 (0 dB).  Deterministic for a given seed.  speed_kmh=0 gives a static
    but still frequency-selective channel.
    """
    _check_args(profile, speed_kmh, n_rb, duration_s, carrier_hz, sample_s)
    taps = PROFILES[profile]
    delays_s = np.asarray(taps["delays_ns"], dtype=float) * 1e-9
    powers = 10.0 ** (np.asarray(taps["powers_db"], dtype=float) / 10)
    powers /= powers.sum()
    n_samples = int(round(duration_s / sample_s))

    rng = np.random.default_rng(seed)
    gains = rayleigh_gains(len(delays_s), max_doppler_hz(speed_kmh, carrier_hz),
                           n_samples, sample_s, rng)
    f_rb = (np.arange(n_rb) + 0.5) * RB_BANDWIDTH_HZ
    steering = np.exp(-2j * np.pi * np.outer(f_rb, delays_s)) * np.sqrt(powers)
    power = np.abs(steering @ gains) ** 2
    # Guard against log10(0): ns-3 cannot parse "-inf" from the trace file.
    return 10 * np.log10(np.maximum(power, 1e-12))


def write_ns3_trace(trace_db: np.ndarray, path) -> None:
    """Write a trace in the layout TraceFadingLossModel::LoadTrace reads.

    LoadTrace streams whitespace-separated doubles RB-major (all samples of
    RB 0, then RB 1, ...), so one RB per line matches ns-3's own .fad files.
    """
    trace_db = np.asarray(trace_db, dtype=float)
    if trace_db.ndim != 2:
        raise ValueError(f"trace_db must be 2-D (n_rb, n_samples), "
                         f"got shape {trace_db.shape}")
    np.savetxt(path, trace_db, fmt="%.4f", delimiter=" ")


def cache_digest(key: dict) -> str:
    """12 hex digits of the SHA-256 of ``key`` as sorted JSON: the part of a cache file's name
    that changes whenever any input (or a generator's version) does.  Shared with
    ``nr_fading``."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def ensure_fading_trace(cache_dir, profile, speed_kmh, n_rb, duration_s, seed,
                        carrier_hz=2.12e9) -> dict:
    """Return ns-3 attributes for a cached trace, generating it if missing.

    The file name carries a hash of every input (including the profile's taps
    and the generator version), so a changed parameter never reuses a stale
    file.  The file is written to a temporary name and renamed, so parallel
    runs never read a half-written trace.
    """
    _check_args(profile, speed_kmh, n_rb, duration_s, carrier_hz, NS3_SAMPLE_S)
    n_samples = int(round(duration_s / NS3_SAMPLE_S))
    digest = cache_digest({
        "version": _FORMAT_VERSION, "profile": profile, "taps": PROFILES[profile],
        "speed_kmh": float(speed_kmh), "n_rb": int(n_rb),
        "n_samples": n_samples, "seed": int(seed),
        "carrier_hz": float(carrier_hz),
    })
    cache_dir = Path(cache_dir)
    path = cache_dir / (f"fading_{profile}_{speed_kmh:g}kmh_{n_rb}rb_"
                        f"{n_samples}ms_seed{seed}_{digest}.fad")
    if not path.exists():
        trace = fading_trace_db(profile, speed_kmh, n_rb, n_samples * NS3_SAMPLE_S,
                                seed, carrier_hz, NS3_SAMPLE_S)
        write_atomically(path, lambda f: write_ns3_trace(trace, f))
    return {
        "path": str(path),
        "TraceLength_s": round(n_samples * NS3_SAMPLE_S, 6),
        "SamplesNum": n_samples,
        "RbNum": int(n_rb),
        "WindowSize_s": WINDOW_SIZE_S,
    }
