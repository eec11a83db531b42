"""Quality of generation vs the bit error rate of the edge-map stream: the Phi_j(BER) curves of
the latency-aware paper (its Fig. 2): bit-error injection, the per-BER summary, monotonicity,
the largest BER a quality target allows, the figure. Scenario latency_sweep measures the rows
(scenarios/latency_aware/phi.py):

For each image, BER and error seed, random bit errors are injected into the edge-map bitstream
(each payload bit flipped independently with probability BER; the stream's 9-byte header is
taken as protected, like the packet headers on the link), the receiver decodes what it got and
the generator draws the image from the prompt and the received edge map. A stream that no
longer decodes (a zlib stream hit by one flip usually does not) falls back to prompt-only
generation, as the GenAI agent does. Quality is the normalised CLIP score (or the labelled
CLIP substitute when no CLIP is configured) and MS-SSIM against the original image.

Two edge-map formats are measured: "zlib" (the compressed default of the runs) and "raw"
(packed bits, one flipped bit = one wrong pixel), since which one a link should carry depends
on this curve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BERS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
CONDITIONS = ("prompt_only", "prompt_edge")


def inject_bit_errors(data: bytes, ber: float, rng: np.random.Generator,
                      protected_bytes: int = 0) -> tuple[bytes, int]:
    """(data with each bit after the first protected_bytes flipped with probability ber, flips)."""
    if not 0.0 <= ber <= 1.0:
        raise ValueError(f"BER {ber} outside [0, 1]")
    buf = np.frombuffer(bytes(data), dtype=np.uint8).copy()
    payload = buf[protected_bytes:]
    n_bits = payload.size * 8
    # Draw how many flips, then where: cheap at the small BERs of interest.
    n_flips = int(rng.binomial(n_bits, ber)) if n_bits else 0
    if n_flips:
        pos = rng.choice(n_bits, size=n_flips, replace=False)
        np.bitwise_xor.at(payload, pos // 8, (1 << (7 - pos % 8)).astype(np.uint8))
    buf[protected_bytes:] = payload
    return buf.tobytes(), n_flips


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % confidence half-width (normal approximation) per condition/format/BER."""
    out = []
    for (cond, fmt, ber), g in rows.groupby(["condition", "format", "ber"], dropna=False):
        row = {"condition": cond, "format": fmt, "ber": ber, "n": len(g),
               "decoded_fraction": float(g["decoded"].mean()),
               "semantic_metric": g["semantic_metric"].iloc[0]}
        for m in ("semantic", "ms_ssim"):
            v = g[m].to_numpy(float)
            row[m] = float(v.mean())
            row[f"{m}_ci95"] = float(1.96 * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan
        out.append(row)
    return pd.DataFrame(out).sort_values(["condition", "format", "ber"]).reset_index(drop=True)


def monotonicity(summary: pd.DataFrame, metric: str = "semantic") -> list[str]:
    """Where a curve rises with BER by more than its confidence intervals allow (it should not)."""
    issues = []
    for fmt, g in summary[summary["condition"] == "prompt_edge"].groupby("format"):
        g = g.sort_values("ber")
        v, ci, b = g[metric].to_numpy(), g[f"{metric}_ci95"].to_numpy(), g["ber"].to_numpy()
        for j in range(1, len(g)):
            if v[j] > v[j - 1] + np.hypot(ci[j], ci[j - 1]):
                issues.append(f"{fmt}: {metric} rises from BER {b[j-1]:.0e} ({v[j-1]:.4f}) to "
                              f"{b[j]:.0e} ({v[j]:.4f}) beyond the 95 % intervals")
    return issues


def max_ber_for(summary: pd.DataFrame, target: float, fmt: str, metric: str = "semantic") -> float | None:
    """Generalised inverse of Phi: the largest BER on the measured grid (log-linearly
    interpolated) up to which the mean quality stays >= target; None when even the smallest
    BER misses it."""
    g = summary[(summary["condition"] == "prompt_edge") & (summary["format"] == fmt)].sort_values("ber")
    b, v = np.log10(g["ber"].to_numpy()), g[metric].to_numpy()
    if not len(v) or v[0] < target:
        return None
    for j in range(1, len(v)):
        if v[j] < target:  # crosses between j-1 and j
            frac = (v[j - 1] - target) / (v[j - 1] - v[j])
            return float(10 ** (b[j - 1] + frac * (b[j] - b[j - 1])))
    return float(10 ** b[-1])


def plot(summary: pd.DataFrame, path=None):
    """Fig. 2 equivalent; without a path the figure is returned (for notebooks)."""
    from .plots import plt, save_or_return  # the backend choice: Agg, or a notebook's inline one

    metric_name = summary["semantic_metric"].iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, m, label in ((axes[0], "semantic", f"normalised {metric_name}"), (axes[1], "ms_ssim", "MS-SSIM")):
        base = summary[summary["condition"] == "prompt_only"].iloc[0]
        ax.axhspan(base[m] - base[f"{m}_ci95"], base[m] + base[f"{m}_ci95"], color="grey", alpha=0.25)
        ax.axhline(base[m], color="grey", ls="--", label="prompt only")
        for fmt, g in summary[summary["condition"] == "prompt_edge"].groupby("format"):
            g = g.sort_values("ber")
            ax.errorbar(g["ber"], g[m], yerr=g[f"{m}_ci95"], marker="o", capsize=3,
                        label=f"prompt + edge map ({fmt})")
        ax.set_xscale("log")
        ax.set_xlabel("BER of the edge-map stream")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Generation quality vs edge-map BER (mean, 95 % CI)")
    fig.tight_layout()
    return save_or_return(fig, path, dpi=130)
