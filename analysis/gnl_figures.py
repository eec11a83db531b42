"""Figures of the generative network layer's curves: Figs. 2-3 (measured points and fits),
Fig. 4a/4b (optimal prompt size and flow gain) and G_flow vs capacity."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .gnl_curves import METRICS


_STYLE = {"pe": ("tab:blue", "-"), "ps_low": ("tab:orange", "--"), "ps_medium": ("tab:green", "--"),
          "ps_high": ("tab:red", "--"), "hybrid_low": ("darkorange", "-."), "hybrid_medium": ("darkgreen", "-."),
          "hybrid_high": ("darkred", "-."), "implicit": ("tab:purple", ":"), "jpeg": ("black", "-"),
          "jpeg_ps": ("grey", "--")}
_MARKER = {"hybrid": "s", "implicit": "^"}   # by curve prefix; "o" otherwise


def curve_style(curve: str):
    return _STYLE.get(curve, ("tab:brown", (0, (1, 1))))


def curve_marker(curve: str) -> str:
    return _MARKER.get(curve.split("_")[0], "o")


def plot_curves(points: pd.DataFrame, fits: dict, metric: str, path, title: str, symlog: float | None = None) -> None:
    """Measured points and fits of every curve on a log bpp axis; symlog: a symmetric-log y axis
    linear below this value (for curves whose scales differ by orders of magnitude, 0 still shown)."""
    from .plots import plt, save_or_return  # Agg, or a notebook's inline backend

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for curve in points["curve"].unique():
        color, ls = curve_style(curve)
        sub = points[points["curve"] == curve]
        ax.plot(sub.loc[~sub["exact"], "bpp"], sub.loc[~sub["exact"], f"delta_{metric}"], curve_marker(curve),
                color=color, ms=4)
        fit = fits[curve, metric]
        x = np.geomspace(fit.lo, fit.hi, 300)
        name = f"{curve} (pan frames)" if curve == "implicit" else curve
        ax.plot(x, fit(x), linestyle=ls, color=color, label=f"{name}: {fit.family}, r²={fit.r2:.3f}")
    ax.set_xscale("log")
    if symlog:
        ax.set_yscale("symlog", linthresh=symlog)
        ax.set_ylim(bottom=0.0)
    ax.set_xlabel("prompt size L_p (bpp)")
    ax.set_ylabel(METRICS[metric] + (f", symlog (linear below {symlog:g})" if symlog else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_or_return(fig, path, dpi=120)


def plot_fig4(opt: pd.DataFrame, c_sg: float, path) -> None:
    from .plots import plt, save_or_return  # Agg, or a notebook's inline backend

    at = opt[(opt["c_sg"] == c_sg) & opt["feasible"]]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    for col, m in enumerate(METRICS):
        for curve, sub in at[at["metric"] == m].groupby("curve"):
            color, ls = curve_style(curve)
            sub = sub.sort_values("weight")
            axes[0, col].plot(sub["weight"], sub["prompt_bpp"], linestyle=ls, marker=curve_marker(curve), ms=3, color=color, label=curve)
            axes[1, col].plot(sub["weight"], sub["flow_gain"], linestyle=ls, marker=curve_marker(curve), ms=3, color=color, label=curve)
        axes[0, col].set_title(f"(a) optimal prompt size, {METRICS[m]}, c_sg = {c_sg} bpp")
        axes[1, col].set_title(f"(b) G_flow, {METRICS[m]}")
        axes[0, col].set_ylabel("L_p* (bpp)")
        axes[1, col].set_ylabel("G_flow")
        axes[1, col].set_xlabel("quality weight w")
        for ax in axes[:, col]:
            ax.set_xscale("symlog", linthresh=0.1)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_or_return(fig, path, dpi=120)


def plot_capacity(opt: pd.DataFrame, weights: list[float], path) -> None:
    from .plots import plt, save_or_return  # Agg, or a notebook's inline backend

    fig, axes = plt.subplots(2, len(weights), figsize=(4.5 * len(weights), 7), sharex=True, squeeze=False)
    for j, w in enumerate(weights):
        sub_w = opt[(opt["weight"] == w) & opt["feasible"] & (opt["metric"] == "P")]
        for curve, sub in sub_w.groupby("curve"):
            color, ls = curve_style(curve)
            sub = sub.sort_values("c_sg")
            axes[0, j].plot(sub["c_sg"], sub["prompt_bpp"], linestyle=ls, marker=curve_marker(curve), ms=3, color=color, label=curve)
            axes[1, j].plot(sub["c_sg"], sub["flow_gain"], linestyle=ls, marker=curve_marker(curve), ms=3, color=color, label=curve)
        axes[0, j].set_title(f"perception, w = {w}")
        axes[0, j].set_ylabel("L_p* (bpp)")
        axes[1, j].set_ylabel("G_flow")
        axes[1, j].set_xlabel("c_sg (bpp per period)")
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_or_return(fig, path, dpi=120)
