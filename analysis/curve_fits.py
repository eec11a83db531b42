"""Least-squares fits of a rate-quality curve y(x) by small function families (linear,
quadratic, exponential, power, logistic), with r^2 / adjusted r^2, and automatic selection of
the family (the highest adjusted r^2; near-ties go to the simpler family)."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

ADJ_R2_TIE = 1e-4                  # adjusted r^2 this close counts as a tie in auto selection


@dataclass(frozen=True)
class Family:
    name: str
    func: Callable
    params: tuple[str, ...]
    starts: Callable  # (x, y) -> list of initial parameter vectors
    finite_at_zero: bool


def _linear(x, a, b):
    return a + b * x


def _quadratic(x, a, b, c):
    return a + b * x + c * x * x


def _exponential(x, a, b, c):
    return a * np.exp(-b * x) + c


def _power(x, a, b, c):
    return a * np.power(x, -b) + c


def _logistic(x, a, k, x0):
    return a / (1.0 + np.exp(np.clip(k * (x - x0), -500, 500)))


def _poly_start(deg):
    return lambda x, y: [np.polyfit(x, y, deg)[::-1]]


def _exp_starts(x, y):
    span = y.max() - y.min()
    return [(span * np.exp(b * x.min()), b, y.min()) for b in (0.05, 0.3, 1.0, 3.0, 10.0)]


def _power_starts(x, y):
    span = y.max() - y.min()
    return [(span * x.min() ** b, b, y.min()) for b in (0.3, 1.0, 2.0)]


def _logistic_starts(x, y):
    return [(1.2 * y.max(), k, x0) for k in (0.3, 1.0, 4.0) for x0 in (np.median(x), x.mean())]


FAMILIES = {f.name: f for f in [
    Family("linear", _linear, ("a", "b"), _poly_start(1), True),
    Family("quadratic", _quadratic, ("a", "b", "c"), _poly_start(2), True),
    Family("exponential", _exponential, ("a", "b", "c"), _exp_starts, True),
    Family("power", _power, ("a", "b", "c"), _power_starts, False),
    Family("logistic", _logistic, ("a", "k", "x0"), _logistic_starts, True),
]}
FORMULAS = {"linear": "a + b x", "quadratic": "a + b x + c x^2", "exponential": "a exp(-b x) + c",
            "power": "a x^-b + c", "logistic": "a / (1 + exp(k (x - x0)))"}


@dataclass
class CurveFit:
    curve: str
    metric: str
    family: str
    params: dict
    r2: float
    adj_r2: float
    n_points: int
    lo: float       # domain: the fit is used only between the curve's end points
    hi: float
    candidates: dict = field(default_factory=dict)   # family -> adjusted r^2 (auto selection)

    def __call__(self, x):
        return FAMILIES[self.family].func(np.asarray(x, float), *self.params.values())

    def row(self) -> dict:
        return {"curve": self.curve, "metric": self.metric, "family": self.family,
                "formula": FORMULAS[self.family], "params": json.dumps(self.params),
                "r2": self.r2, "adj_r2": self.adj_r2, "n_points": self.n_points,
                "bpp_lo": self.lo, "bpp_hi": self.hi, "candidates": json.dumps(self.candidates)}


def r_squared(y, y_hat) -> float:
    y, y_hat = np.asarray(y, float), np.asarray(y_hat, float)
    sst = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - y_hat) ** 2).sum()) / sst if sst > 0 else float("nan")


def adjusted_r2(r2: float, n: int, k: int) -> float:
    """r^2 penalised for k fitted parameters (n > k); nan when no residual degree of freedom."""
    return 1.0 - (1.0 - r2) * (n - 1) / (n - k) if n > k else float("nan")


def fit_family(x, y, family: str) -> tuple[dict, float]:
    """Least-squares fit (scipy curve_fit, several deterministic starts; the smallest residual
    wins, i.e. the largest r^2). Returns (parameters, r^2); raises RuntimeError if no start
    converges."""
    fam = FAMILIES[family]
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < len(fam.params):
        raise RuntimeError(f"{family}: {len(x)} points cannot determine {len(fam.params)} parameters")
    best, best_sse = None, np.inf
    for p0 in fam.starts(x, y):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (OptimizeWarning, RuntimeWarning))
                p, _ = curve_fit(fam.func, x, y, p0=np.asarray(p0, float), maxfev=3000)
                sse = float(((fam.func(x, *p) - y) ** 2).sum())
        except (RuntimeError, ValueError, FloatingPointError):
            continue
        if np.all(np.isfinite(p)) and np.isfinite(sse) and sse < best_sse:
            best, best_sse = p, sse
    if best is None:
        raise RuntimeError(f"{family}: curve_fit did not converge from any start")
    return dict(zip(fam.params, map(float, best))), r_squared(y, fam.func(x, *best))


def fit_curve(x, y, family: str = "auto", curve: str = "", metric: str = "",
              allowed: list[str] | None = None) -> CurveFit:
    """Fit one curve. family "auto": every allowed family with a residual degree of freedom is
    fitted and the largest adjusted r^2 wins (within ADJ_R2_TIE: the fewest parameters)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    names = [family] if family != "auto" else [f for f in (allowed or FAMILIES) if len(x) > len(FAMILIES[f].params)]
    if family != "auto" and family not in FAMILIES:
        raise ValueError(f"unknown function family {family!r}; known: {sorted(FAMILIES)}")
    fits = {}
    for name in names:
        try:
            params, r2 = fit_family(x, y, name)
        except RuntimeError:
            if family != "auto":
                raise
            continue
        fits[name] = (params, r2, adjusted_r2(r2, len(x), len(params)))
    if not fits:
        raise RuntimeError(f"curve {curve}.{metric}: no function family could be fitted to {len(x)} points")
    # Near-ties go to the simpler family (PS distortion is linear in gamma: MSE scales by 1 - gamma).
    top = max(np.nan_to_num(v[2], nan=-np.inf) for v in fits.values())
    near = [n for n in fits if np.nan_to_num(fits[n][2], nan=-np.inf) >= top - ADJ_R2_TIE]
    name = min(near, key=lambda n: (len(FAMILIES[n].params), -fits[n][2], n))
    params, r2, adj = fits[name]
    return CurveFit(curve, metric, name, params, r2, adj, len(x), float(x.min()), float(x.max()),
                    {n: round(v[2], 6) for n, v in sorted(fits.items())} if family == "auto" else {})
