"""Campaign tables (gensemcom.campaign writes them): replicates aggregated with 95 % confidence
intervals, and a metric-vs-parameter plot with those intervals.

    points = pd.read_parquet(".../campaigns/NAME/points.parquet")
    agg = aggregate(points, ["lte.ues.0.distance_m"], ["mean_latency_s"])
    plot_metric(points, "lte.ues.0.distance_m", "mean_latency_s", hue="lte.scheduler", path=...)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def ci95_half_width(values: pd.Series) -> float:
    """Half width of the Student-t 95 % interval of the mean (NaN for fewer than 2 values)."""
    x = values.dropna().to_numpy(dtype=float)
    if len(x) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def aggregate(points: pd.DataFrame, params: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per parameter combination (finished points only): `replicates`, and per metric
    `<metric>` (mean), `<metric>.ci95` (half width), `<metric>.std`."""
    ok = points[points["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=[*params, "replicates"])
    # Parameters may hold lists (e.g. image names): group on their JSON text, keep the values.
    keys = {p: ok[p].map(repr) for p in params}
    groups = ok.groupby(list(keys.values()), sort=False, dropna=False) if params else [((), ok)]
    rows = []
    for _, group in groups:
        row = {p: group[p].iloc[0] for p in params}
        row["replicates"] = len(group)
        for m in metrics:
            values = pd.to_numeric(group[m], errors="coerce") if m in group else pd.Series(dtype=float)
            row[m] = float(values.mean()) if values.notna().any() else float("nan")
            row[f"{m}.ci95"] = ci95_half_width(values)
            row[f"{m}.std"] = float(values.std(ddof=1)) if values.notna().sum() > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_metric(points: pd.DataFrame, x: str, metric: str, path: Path | None = None, hue: str | None = None,
                ax=None):
    """Mean of `metric` vs parameter `x` over replicates, with 95 % intervals; one line per
    value of `hue`. Returns the matplotlib Axes (and saves the figure to `path` if given)."""
    import matplotlib.pyplot as plt

    agg = aggregate(points, [x] + ([hue] if hue else []), [metric])
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    series = agg.groupby(agg[hue].map(repr), sort=False) if hue else [(None, agg)]
    for label, d in series:
        d = d.sort_values(x)
        ax.errorbar(d[x], d[metric], yerr=d[f"{metric}.ci95"].fillna(0), marker="o", capsize=3,
                    label=f"{hue} = {d[hue].iloc[0]}" if hue else None)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    n = int(agg["replicates"].min()) if len(agg) else 0
    ax.set_title(f"{metric} vs {x} (mean, 95 % CI, {n}+ replicates)", fontsize=9)
    ax.grid(alpha=0.3)
    if hue:
        ax.legend(fontsize=7)
    if path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
    return ax
