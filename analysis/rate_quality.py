"""The rate-quality table (scenario rate_quality measures it): JPEG at equal bpp, the figure and
the Markdown table.

For each method and image: bpp (whole bitstream, headers included), MSE, PSNR, MS-SSIM, LPIPS
(AlexNet), normalised MSE, CLIP(-substitute); per method: the means, FID and KID over the
whole image set, normalised FID. Generators are fed the streams the encoder side produces
(prompt from models.prompt, edge map from models.edges, 8x8 colour hint), and their bpp
counts all of them; the naive baselines get the same streams.

The image set is the held-out images (centre crops) plus random crops of them at random
scales, so that FID/KID have more than a handful of samples (analysis.fid.SAMPLE_SIZE_CAVEAT:
compare FIDs only at equal N).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def add_jpeg_at_equal_bpp(table: pd.DataFrame) -> None:
    """Columns jpeg_<metric>_at_bpp: JPEG's curve interpolated (linearly in bpp) at each method's bpp."""
    jpeg = table[table["family"] == "jpeg"].sort_values("bpp")
    for metric in ("psnr_db", "lpips", "ms_ssim", "fid", "kid"):
        col = f"jpeg_{metric}_at_bpp"
        table[col] = np.nan
        if len(jpeg) >= 2:
            inside = table["bpp"].between(jpeg["bpp"].min(), jpeg["bpp"].max())
            table.loc[inside, col] = np.interp(table.loc[inside, "bpp"], jpeg["bpp"], jpeg[metric])


def plot(table: pd.DataFrame, path) -> None:
    from .plots import plt, save_or_return  # Agg, or a notebook's inline backend
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    panels = [("psnr_db", "PSNR (dB)"), ("ms_ssim", "MS-SSIM"), ("lpips", "LPIPS (lower is better)"),
              ("fid", "FID (lower is better)"), ("kid", "KID (lower is better)"), ("clip_cosine", "CLIP(-substitute) cosine")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (col, title) in zip(axes.flat, panels):
        jpeg = table[table["family"] == "jpeg"].sort_values("bpp")
        ax.plot(jpeg["bpp"], jpeg[col], "o-", color="grey", label="JPEG")
        codecs = table[table["family"] == "codec"].sort_values("bpp")
        ax.plot(codecs["bpp"], codecs[col], "s-", color="tab:blue", label="learned codec")
        for _, r in codecs.iterrows():
            ax.annotate(r["method"], (r["bpp"], r[col]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        for (_, r), marker in zip(table[table["family"] == "generator"].iterrows(), "^vD<>p"):
            ax.plot(r["bpp"], r[col], marker, markersize=9, label=r["method"])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([0.25, 0.5, 1, 2, 4]))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bits per pixel (whole bitstream)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Rate-quality on {int(table['n_images'].iloc[0])} held-out images / crops")
    fig.tight_layout()
    save_or_return(fig, path, dpi=120)


def markdown(table: pd.DataFrame) -> str:
    cols = ["method", "bpp", "psnr_db", "ms_ssim", "lpips", "fid", "kid", "clip_cosine",
            "jpeg_psnr_db_at_bpp", "jpeg_lpips_at_bpp", "jpeg_fid_at_bpp"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [r[c] if isinstance(r[c], str) else ("" if pd.isna(r[c]) else f"{r[c]:.3f}") for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
