"""Figures of mobile edge generation: overhead and quality per protocol, the image grid of a run,
and the sweep's response time, quality and image grid (tables: meg_results)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .meg_results import MIN_FID_N, png_image
from .plots import plt, save_or_return  # Agg, or a notebook's inline backend


def figure(table: pd.DataFrame, quality: pd.DataFrame, requests: pd.DataFrame, path: Path | None = None):
    """Bits per direction (log scale), response time per request, PSNR / LPIPS per protocol.
    Saved to `path` (and closed), or returned for a notebook."""
    names = table["protocol"].tolist()
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    ax = axes[0]
    ax.bar(x - 0.2, table["uplink_bits"].where(table["uplink_bits"] > 0), 0.4, label="uplink (measured)")
    ax.bar(x + 0.2, table["downlink_bits"].where(table["downlink_bits"] > 0), 0.4, label="downlink (measured)")
    for col, marker, label in (("paper_uplink_bits", "^", "paper uplink"), ("paper_downlink_bits", "v", "paper downlink")):
        vals = pd.to_numeric(table[col], errors="coerce")
        ax.scatter(x, vals.where(vals > 0), marker=marker, color="k", zorder=3, s=25, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("bits per request")
    ax.set_title("Communication overhead")
    ax.legend(fontsize=7)
    ax = axes[1]
    ok = requests[requests["status"] == "ok"]
    for i, p in enumerate(names):
        r = ok[ok["protocol"] == p]["response_s"] * 1e3
        ax.scatter(np.full(len(r), i), r, s=14, alpha=0.7)
    ax.bar(x, quality.set_index("protocol").reindex(names)["response_s"] * 1e3, 0.6, alpha=0.3, color="grey")
    ax.set_ylabel("response time (ms, simulated)")
    ax.set_title("Response time: radio + backhaul + compute + queueing")
    ax = axes[2]
    qq = quality.set_index("protocol").reindex(names)
    ax.bar(x - 0.2, qq["psnr_db"], 0.4, label="PSNR vs input (dB)")
    ax.bar(x + 0.2, qq["psnr_ref_db"].replace([np.inf], np.nan), 0.4, label="PSNR vs noiseless run (dB)")
    ax.set_ylabel("dB")
    ax2 = ax.twinx()
    ax2.plot(x, qq["lpips"], "ko-", label="LPIPS vs input")
    if "inception_cosine" in qq:
        ax2.plot(x, qq["inception_cosine"], "rs--", label="Inception cosine vs input (FID substitute)")
    ax2.set_ylabel("LPIPS / Inception cosine")
    ax.set_title("Quality of the delivered image")
    ax.legend(fontsize=7, loc="lower left")
    ax2.legend(fontsize=7, loc="lower right")
    for a in axes:
        a.set_xticks(x)
        a.set_xticklabels(names, rotation=45, ha="right")
    return _save(fig, path)


def image_grid(original: np.ndarray, results: dict[str, np.ndarray | None], captions: dict[str, str],
               path: Path, title: str) -> None:
    """The input image and each protocol's delivered image (the paper's Fig. 5 layout)."""
    items = [("input", original, "")] + [(p, img, captions.get(p, "")) for p, img in results.items()]
    cols = min(6, len(items))
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, img, caption) in zip(axes.flat, items):
        if img is None:
            ax.text(0.5, 0.5, "not delivered", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.imshow(img)
        ax.set_title(f"{name}\n{caption}" if caption else name, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- scenario meg_sweep ---------------------------------------------------------------------


def _save(fig, path: Path | None):
    fig.tight_layout()
    return save_or_return(fig, path)


_FAMILIES = {"full_ue": ":", "full_es": ":", "uieg": "-", "eiug": "-", "ciag": "-", "esuc": "-",
             "uidg": "--", "diug": "--", "dsuc": "--", "uidcg": "-.", "dcsuc": "-."}


def _style(protocol: str) -> dict:
    names = list(_FAMILIES)
    i = names.index(protocol) if protocol in names else len(names)
    colours = [plt.get_cmap("tab10")(k) for k in range(10)] + ["black"]
    return {"color": colours[i % len(colours)], "linestyle": _FAMILIES.get(protocol, "-"), "marker": "o"}


def _lines(ax, frame: pd.DataFrame, x: str, y: str, scale: float = 1.0) -> None:
    for protocol, g in frame.groupby("protocol", sort=False):
        g = g.sort_values(x)
        ax.plot(g[x], g[y].replace([np.inf], np.nan) * scale, label=protocol, **_style(protocol))


def response_figure(response: pd.DataFrame, path: Path | None = None):
    """Mean response time vs UEs sharing the edge servers, and vs edge servers (multi-ES)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, series, xlabel in ((axes[0], "ues", "UEs sharing the edge server(s)"),
                               (axes[1], "ess", "edge servers (one UE)")):
        part = response[response["series"] == series]
        _lines(ax, part, "x", "response_s", 1e3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean response time (ms, simulated)")
        if not part.empty:
            ax.set_xticks(sorted(part["x"].unique()))
            ax.legend(fontsize=7)
    axes[0].set_title("Response time vs load: radio + backhaul + compute + ES queueing")
    axes[1].set_title("Response time of the multi-ES protocols vs edge servers")
    return _save(fig, path)


def quality_figure(quality: pd.DataFrame, path: Path | None = None):
    """Quality of the delivered image vs the feature channel's SNR. Top row against the input
    image: PSNR, LPIPS and the FID substitute (Inception-feature cosine); bottom row against the
    same protocol's noiseless run: PSNR, LPIPS; and FID vs the inputs where a point had
    fid_n >= 2 images (else a note)."""
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.4))
    panels = ((axes[0, 0], "psnr_db", "PSNR vs input (dB)"), (axes[0, 1], "lpips", "LPIPS vs input"),
              (axes[0, 2], "inception_cosine", "Inception-feature cosine vs input\n(FID substitute, per image)"),
              (axes[1, 0], "psnr_ref_db", "PSNR vs noiseless run (dB)"),
              (axes[1, 1], "lpips_ref", "LPIPS vs noiseless run"))
    for ax, col, title in panels:
        if col in quality:
            _lines(ax, quality, "snr_db", col)
        ax.set_xlabel("feature channel SNR (dB)")
        ax.set_title(title)
    ax = axes[1, 2]
    fid = pd.to_numeric(quality["fid"], errors="coerce") if "fid" in quality else pd.Series(dtype=float)
    if fid.notna().any():
        _lines(ax, quality, "snr_db", "fid")
        ax.set_xlabel("feature channel SNR (dB)")
        ax.set_title(f"FID vs input (points with n >= {MIN_FID_N} images; small-sample)")
    else:
        n = int(quality["fid_n"].max()) if "fid_n" in quality and not quality.empty else 0
        ax.axis("off")
        ax.text(0.5, 0.5, f"FID / KID not computed:\nat most n = {n} delivered image(s) per\n"
                f"protocol and SNR (need n >= {MIN_FID_N});\nsee the FID substitute above",
                ha="center", va="center", fontsize=10, transform=ax.transAxes)
    if not quality.empty:
        axes[0, 0].legend(fontsize=7, ncol=2)
    return _save(fig, path)


def grid_figure(grid: pd.DataFrame, path: Path | None = None, title: str = ""):
    """The paper's Fig. 5 layout: a row per protocol, its delivered image at each SNR beside
    its noiseless run, the input image top left (grid.parquet of a sweep)."""
    snrs = sorted(grid["snr_db"].dropna().unique())
    columns = ["input", "noiseless"] + [f"{s:g} dB" for s in snrs]
    protocols = [p for p in dict.fromkeys(grid["protocol"]) if p != "input"]
    cells = {(r.protocol, r.column): r for r in grid.itertuples()}
    fig, axes = plt.subplots(len(protocols), len(columns), figsize=(1.6 * len(columns), 1.75 * len(protocols)),
                             squeeze=False)
    for i, protocol in enumerate(protocols):
        for j, column in enumerate(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if column == "input":
                cell = cells.get(("input", "input")) if i == 0 else None
                if cell is None:
                    ax.axis("off")
                    continue
            else:
                cell = cells.get((protocol, column))
            image = png_image(cell.png) if cell is not None else None
            if image is None:
                ax.text(0.5, 0.5, "not delivered", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            else:
                ax.imshow(image)
            if cell is not None and column not in ("input", "noiseless") and np.isfinite(cell.psnr_db):
                ax.set_xlabel(f"{cell.psnr_db:.1f} dB, {cell.lpips:.2f}", fontsize=6)
            if i == 0:
                ax.set_title(column, fontsize=8)
            if j == 1:
                ax.set_ylabel(protocol, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
