"""Fast fading per PRB and slot for the NR cell, from Sionna's 3GPP TR 38.901 TDL models.

The C++ NR cell takes, per UE, a float32 array of channel power gains in dB of shape
``[n_slots, n_prb]`` (row-major: all PRBs of slot 0, then slot 1, ...) and loops it in time.
This module makes that array with ``sionna.phy.channel.tr38901.TDL`` (profiles TDL-A..TDL-E,
whose normalised tap delays Sionna scales by the RMS delay spread, 38.901 §7.7.2; example
spreads in Table 7.7.3-1: 10, 30, 100, 300, 1000 ns) and caches it under ``build/nr/fading/``
like ``fading.py`` caches the LTE traces.

Choices:

- **One sample per slot.** Sionna's sum-of-sinusoids tap gains are sampled every slot,
  T_slot = 1/2^mu ms.  Their phases are uniform random, so the process is stationary and the
  time origin is a convention: sample s is taken as the *middle* of slot s.  One gain stands for
  the whole slot (the NR PHY abstraction has one SINR per PRB and slot), and the middle is the
  instant that is at most half a slot from every symbol of it (and near where a DMRS-based
  estimate averages).
- **Mean power over the PRB's 12 subcarriers**, not the response at the PRB centre: the
  frequency response is computed (``sionna.phy.channel.cir_to_ofdm_channel``) on all
  12 * n_prb subcarriers of spacing 15 * 2^mu kHz (``subcarrier_frequencies``, centred on the
  carrier) and |H|^2 is averaged over each PRB.  That is the PRB's linear-average gain, what a
  per-PRB SINR (and EESM after it) stands for; it differs from the centre value only where the
  channel varies within a PRB (long delay spreads at mu = 2, 3).
- **SISO**, one TX and one RX antenna, Sionna's default 20 sinusoids a tap, TR 38.901 tables
  of Sionna's default ``spec_version``; computed in double precision (phases reach ~1e4 rad
  in a long fast trace), stored as float32.
- **Mean gain 0 dB.** Sionna normalises the power-delay profile, so E|H|^2 = 1.  With
  ``normalise=True`` (default) the trace is also divided by its own mean linear gain, so that
  the looped trace averages exactly 0 dB (a finite trace of a slow UE otherwise carries a
  random offset of a dB or more, which would act as extra shadowing and differ between seeds
  and speeds).  ``normalise=False`` keeps Sionna's E|H|^2 = 1 only.
- **0 km/h** gives Sionna's static channel: every slot identical, still frequency-selective.
- Gains are floored at -120 dB (no -inf).

Usage::

    from gensemcom.channels.nr_fading import ensure_prb_gains, load_prb_gains
    t = ensure_prb_gains("TDL-C", delay_spread_s=300e-9, speed_kmh=30, carrier_hz=3.5e9,
                         numerology=1, n_prb=106, n_slots=2000, seed=1)
    gains_db = load_prb_gains(t["path"])   # float32 [2000, 106]
    # C++: read n_slots * n_prb little-endian float32 from byte t["data_offset"] of t["path"]
"""

from __future__ import annotations

import importlib.metadata
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from gensemcom.core.paths import build_dir, write_atomically

from .fading import cache_digest, max_doppler_hz
from .nr_tables import MAX_PRB, SIONNA_DIST

PROFILES = ("TDL-A", "TDL-B", "TDL-C", "TDL-D", "TDL-E")  # TR 38.901 §7.7.2, scaled by the DS
NUMEROLOGIES = (0, 1, 2, 3)  # SCS 15 * 2^mu kHz; slots of 14 symbols, 1/2^mu ms
SUBCARRIERS_PER_PRB = 12
NUM_SINUSOIDS = 20  # Sionna's default per tap
GAIN_FLOOR_DB = -120.0
_MAX_ELEMENTS = 1 << 22  # complex subcarrier responses computed at once (64 MiB in complex128)
_FORMAT_VERSION = 1  # bump when the generator or the file changes, to invalidate caches


def slot_s(numerology: int) -> float:
    """Slot duration in s: 1 ms / 2^mu."""
    return 1e-3 / 2 ** numerology


def subcarrier_spacing_hz(numerology: int) -> float:
    """Subcarrier spacing in Hz: 15 kHz * 2^mu."""
    return 15e3 * 2 ** numerology


def _canonical_profile(profile) -> str:
    """'TDL-A' (or 'A') -> 'TDL-A'; anything else is a one-line ValueError."""
    name = profile if isinstance(profile, str) else None
    if name is not None and len(name) == 1:
        name = f"TDL-{name}"
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return name


def _check_args(profile, delay_spread_s, speed_kmh, carrier_hz, numerology, n_prb, n_slots,
                seed) -> str:
    profile = _canonical_profile(profile)

    def real(name, value, ok, what):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
                or not ok(value):
            raise ValueError(f"{name} must be {what}, got {value!r}")

    def integer(name, value, ok, what):
        if isinstance(value, bool) or not isinstance(value, Integral) or not ok(value):
            raise ValueError(f"{name} must be {what}, got {value!r}")

    real("delay_spread_s", delay_spread_s, lambda v: v > 0, "a finite delay spread > 0 s")
    real("speed_kmh", speed_kmh, lambda v: v >= 0, "a finite speed >= 0 km/h")
    real("carrier_hz", carrier_hz, lambda v: v > 0, "a finite frequency > 0 Hz")
    integer("numerology", numerology, lambda v: v in NUMEROLOGIES, "an integer in 0..3")
    integer("n_prb", n_prb, lambda v: 1 <= v <= MAX_PRB, f"an integer in 1..{MAX_PRB}")
    integer("n_slots", n_slots, lambda v: v >= 1, "an integer >= 1")
    integer("seed", seed, lambda v: 0 <= v < 2 ** 63, "an integer in 0..2^63-1")
    return profile


def prb_power(profile: str, *, delay_spread_s: float, speed_kmh: float, carrier_hz: float,
              numerology: int, n_prb: int, n_slots: int, seed: int) -> np.ndarray:
    """Linear power gain |H|^2 averaged over each PRB's 12 subcarriers, float64
    [n_slots, n_prb], straight from Sionna (E|H|^2 = 1, no trace normalisation).  Arguments
    as ``prb_gains_db``; imports torch and Sionna (a few s the first time in a process)."""
    profile = _check_args(profile, delay_spread_s, speed_kmh, carrier_hz, numerology, n_prb,
                          n_slots, seed)
    import torch  # noqa: PLC0415 - heavy, and only needed when a trace is generated
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies  # noqa: PLC0415
    from sionna.phy.channel.tr38901 import TDL  # noqa: PLC0415

    class _SeededTDL(TDL):
        """Sionna's TDL drawing from a generator of its own: Sionna's objects draw from the
        process-wide ``sionna.phy.config.torch_rng``, and seeding that (config.seed) would also
        reseed torch's global generator under every other user of it."""

        def __init__(self, generator, **kwargs):
            super().__init__(**kwargs)
            self._generator = generator

        @property
        def torch_rng(self):
            return self._generator

    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    tdl = _SeededTDL(generator, model=profile[-1], delay_spread=float(delay_spread_s),
                     carrier_frequency=float(carrier_hz), num_sinusoids=NUM_SINUSOIDS,
                     min_speed=float(speed_kmh) / 3.6, precision="double", device="cpu")
    # a: [1, 1, 1, 1, 1, n_taps, n_slots], one sample a slot; tau: [1, 1, 1, n_taps]
    a, tau = tdl(batch_size=1, num_time_steps=int(n_slots),
                 sampling_frequency=1.0 / slot_s(numerology))
    n_sc = SUBCARRIERS_PER_PRB * n_prb
    freqs = subcarrier_frequencies(n_sc, subcarrier_spacing_hz(numerology), precision="double",
                                   device="cpu")
    power = np.empty((n_slots, n_prb))
    chunk = max(1, _MAX_ELEMENTS // n_sc)  # slots a chunk, to bound memory at 275 PRBs
    with torch.no_grad():
        for start in range(0, n_slots, chunk):
            stop = min(n_slots, start + chunk)
            h = cir_to_ofdm_channel(freqs, a[..., start:stop], tau)  # [1,1,1,1,1,T,n_sc]
            p = h.abs().square().reshape(stop - start, n_prb, SUBCARRIERS_PER_PRB).mean(-1)
            power[start:stop] = p.numpy()
    return power


def prb_gains_db(profile: str, *, delay_spread_s: float = 100e-9, speed_kmh: float = 3.0,
                 carrier_hz: float = 3.5e9, numerology: int = 1, n_prb: int = 106,
                 n_slots: int = 2000, seed: int = 0, normalise: bool = True) -> np.ndarray:
    """TDL fading gain per slot and PRB in dB: float32 array [n_slots, n_prb], C order (row s =
    slot s, sampled at its middle; column k = PRB k, the mean of |H|^2 over its 12 subcarriers,
    PRB 0 at the lowest frequency).  The linear average is 1 (0 dB) exactly with ``normalise``,
    in expectation without.  Same arguments => the same array (torch generator seeded locally).

    profile: "TDL-A".."TDL-E" (or "A".."E"); delay_spread_s: RMS delay spread that scales the
    profile (38.901 Table 7.7.3-1: 10e-9 .. 1000e-9); speed_kmh: UE speed, Doppler
    f_d = v/c * carrier_hz; numerology: mu in 0..3 (SCS 15 * 2^mu kHz, slot 1/2^mu ms);
    n_prb: 1..275 PRBs of 12 subcarriers; n_slots >= 1.  Bad input: one-line ValueError naming
    the argument.
    """
    power = prb_power(profile, delay_spread_s=delay_spread_s, speed_kmh=speed_kmh,
                      carrier_hz=carrier_hz, numerology=numerology, n_prb=n_prb,
                      n_slots=n_slots, seed=seed)
    if normalise:
        power = power / power.mean()
    gains = 10 * np.log10(np.maximum(power, 10 ** (GAIN_FLOOR_DB / 10)))
    return np.ascontiguousarray(gains, dtype=np.float32)


def cache_dir_default() -> Path:
    """``build/nr/fading`` (``GENSEMCOM_BUILD_DIR`` moves ``build``)."""
    return build_dir() / "nr" / "fading"


def cache_path(profile: str, *, delay_spread_s: float = 100e-9, speed_kmh: float = 3.0,
               carrier_hz: float = 3.5e9, numerology: int = 1, n_prb: int = 106,
               n_slots: int = 2000, seed: int = 0, normalise: bool = True,
               cache_dir: Path | None = None) -> Path:
    """The cache file of these arguments: its name carries the main ones and a hash of all of
    them, of the Sionna version and of this module's format version."""
    profile = _check_args(profile, delay_spread_s, speed_kmh, carrier_hz, numerology, n_prb,
                          n_slots, seed)
    digest = cache_digest({
        "version": _FORMAT_VERSION, "sionna": importlib.metadata.version(SIONNA_DIST),
        "profile": profile, "delay_spread_s": float(delay_spread_s),
        "speed_kmh": float(speed_kmh), "carrier_hz": float(carrier_hz),
        "numerology": int(numerology), "n_prb": int(n_prb), "n_slots": int(n_slots),
        "seed": int(seed), "normalise": bool(normalise), "num_sinusoids": NUM_SINUSOIDS,
    })
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_dir_default()
    return cache_dir / (f"prb_gains_{profile}_{delay_spread_s * 1e9:g}ns_{speed_kmh:g}kmh_"
                        f"mu{numerology}_{n_prb}prb_{n_slots}slots_seed{seed}_{digest}.npy")


def npy_data_offset(path) -> int:
    """Byte offset of the array data in a .npy file (after its header)."""
    with open(path, "rb") as f:
        if np.lib.format.read_magic(f) == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        return f.tell()


def load_prb_gains(path) -> np.ndarray:
    """A cached trace: float32 [n_slots, n_prb] in dB, C order.  A file that is not one is a
    one-line ValueError."""
    try:
        gains = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a PRB gain trace ({e})".replace("\n", " ")) from None
    if gains.dtype != np.dtype("<f4") or gains.ndim != 2 or not gains.flags.c_contiguous:
        raise ValueError(f"{path}: expected a little-endian float32 [n_slots, n_prb] C-order "
                         f"array, got {gains.dtype} {gains.shape}")
    return gains


def ensure_prb_gains(profile: str, *, delay_spread_s: float = 100e-9, speed_kmh: float = 3.0,
                     carrier_hz: float = 3.5e9, numerology: int = 1, n_prb: int = 106,
                     n_slots: int = 2000, seed: int = 0, normalise: bool = True,
                     cache_dir: Path | None = None) -> dict:
    """The cached trace of ``prb_gains_db(...)``, generated (and written atomically) when missing;
    a cache hit neither imports nor calls Sionna.

    Returns {"path": str (.npy, '<f4', C order), "n_slots", "n_prb", "slot_s": slot duration in
    s, "trace_s": n_slots * slot_s (the loop period), "doppler_hz": max Doppler shift,
    "data_offset": byte offset of the row-major float32 data in the file, for a C++ reader}.
    """
    args = dict(delay_spread_s=delay_spread_s, speed_kmh=speed_kmh, carrier_hz=carrier_hz,
                numerology=numerology, n_prb=n_prb, n_slots=n_slots, seed=seed)
    path = cache_path(profile, **args, normalise=normalise, cache_dir=cache_dir)
    if not path.exists():
        gains = prb_gains_db(profile, **args, normalise=normalise)
        write_atomically(path, lambda f: np.lib.format.write_array(f, gains, version=(1, 0)),
                         binary=True)
    return {
        "path": str(path), "n_slots": int(n_slots), "n_prb": int(n_prb),
        "slot_s": slot_s(numerology), "trace_s": n_slots * slot_s(numerology),
        "doppler_hz": max_doppler_hz(speed_kmh, carrier_hz),
        "data_offset": npy_data_offset(path),
    }
