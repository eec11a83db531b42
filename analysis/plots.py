"""Figures written by every run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # runs and tests have no display; a notebook keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402



def save_or_return(fig, path: Path | None, dpi: int = 110):
    """Write the figure to `path` and close it; without a path return it (a notebook shows it)."""
    if path is None:
        return fig
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return None

def image_grid(rows: list[dict], path: Path, max_rows: int = 6) -> None:
    """rows: {"title", "original", "conditioning", "generated" (array or None)}."""
    rows = rows[:max_rows]
    if not rows:
        return
    cols = ("original", "conditioning", "generated")
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.5, 2.6 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, key in enumerate(cols):
            ax = axes[r][c]
            img = row.get(key)
            if img is None:
                ax.text(0.5, 0.5, "not delivered", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(key)
        axes[r][0].set_ylabel(row["title"], fontsize=8)
        axes[r][2].set_xlabel(row.get("caption", ""), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_breakdown(units: pd.DataFrame, path: Path) -> None:
    """Stacked per-unit latency: encoding, uplink, GenAI (queue + compute), downlink."""
    done = units[units["status"].isin(["ok", "degraded"])]
    if done.empty:
        return
    parts = {
        "encode": done["t_sent"] - done["t_arrival"],
        "uplink (radio UL + backhaul)": done["t_genai_ready"] - done["t_sent"],
        "GenAI queue + compute": done["t_generated"] - done["t_genai_ready"],
        "downlink (backhaul + radio DL)": done["t_delivered"] - done["t_generated"],
    }
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(done) + 3), 3.8))
    bottom = np.zeros(len(done))
    labels = done["unit"].astype(str) + "\n" + done["image"]
    for name, seconds in parts.items():
        ms = seconds.to_numpy() * 1e3
        ax.bar(labels, ms, bottom=bottom, label=name)
        bottom += ms
    ax.set_ylabel("latency (ms, simulated)")
    ax.set_title("End-to-end latency per unit")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def harq_retransmission(tb: pd.DataFrame) -> pd.Series:
    """ns-3 marks a HARQ retransmission with NDI 0 in both directions; rv is its HARQ round (DL:
    the redundancy version; UL: the earlier receptions kept for soft combining)."""
    return (tb["ndi"] == 0) | (tb["rv"] > 0)


def phy_activity(packets: pd.DataFrame, path: Path, channel: str = "lte") -> None:
    """MCS of every transport block over time (link adaptation), HARQ retransmissions and
    failures, per direction; beside them the effective SINR of each TB where the trace has it
    (NR). Nothing is drawn for a channel without TB rows."""
    tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
    if tb.empty:
        return
    sinr = "sinr_db" in tb and tb["sinr_db"].notna().any()
    fig, axes = plt.subplots(2, 2 if sinr else 1, figsize=(12 if sinr else 8, 5), sharex=True, squeeze=False)
    for row, (event, title) in zip(axes, [("phy_ul_tb", "uplink"), ("phy_dl_tb", "downlink")]):
        d = tb[tb["event"] == event]
        retransmitted = harq_retransmission(d)
        first, retx = d[~retransmitted], d[retransmitted]
        failed = d[d["ok"] == 0]
        for ax, col, label in zip(row, ("mcs", "sinr_db"), (f"{title} MCS", f"{title} effective SINR (dB)")):
            ax.scatter(first["time_s"], first[col], s=4, label="first transmission")
            ax.scatter(retx["time_s"], retx[col], s=10, marker="^", label="HARQ retransmission")
            ax.scatter(failed["time_s"], failed[col], s=12, marker="x", label="TB decode failed")
            ax.set_ylabel(label)
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[-1]:
        ax.set_xlabel("simulated time (s)")
    fig.suptitle(f"{channel.upper()} PHY: link adaptation (MCS) and HARQ activity")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_FIG4_PANELS = [("prompt_share", "(a) prompt power share (%)", 100.0), ("latency_ms", "(b) latency (ms)", 1.0),
                ("bits_per_symbol", "(c) edge map bits/symbol", 1.0),
                ("prompt_retx", "(d) expected prompt retransmissions", 1.0)]


def _fig4_analytic(curves: pd.DataFrame, figsize, label_prefix: str = "", lw: float = 1.5):
    """The four Fig. 4 panels with the analytic curves (solid continuous rate, dashed discrete
    M) and the single-stream baseline; returns (fig, axes, colour per BER)."""
    fig, axes = plt.subplots(2, 2, figsize=figsize, sharex=True)
    multi = curves[curves["scheme"].str.startswith("multi-stream")]
    colours = dict(zip(sorted(multi["ber"].unique()), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, (col, title, scale) in zip(axes.flat, _FIG4_PANELS):
        for (scheme, ber), d in multi.groupby(["scheme", "ber"]):
            style = "-" if "continuous" in scheme else "--"
            y = d[col].astype(float) * scale
            ax.plot(d["avg_snr_db"], y.where(np.isfinite(y)), style, color=colours[ber], lw=lw,
                    label=f"{label_prefix}BER {ber:.0e}, {'continuous' if style == '-' else 'discrete M'}")
        if col == "latency_ms":
            base = curves[curves["scheme"].str.startswith("baseline")]
            ax.plot(base["avg_snr_db"], base["latency_ms"], "k:", label="baseline: one stream, BER 1e-7")
            ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("average SNR (dB)")
    return fig, axes, colours


def latency_aware_fig4(curves: pd.DataFrame, path: Path) -> None:
    """Fig. 4 equivalents vs average SNR: (a) prompt power share, (b) latency with the
    single-stream baseline, (c) edge-map bits/symbol, (d) expected prompt retransmissions.
    Solid: continuous rate; dashed: discrete M (Table II)."""
    fig, axes, _ = _fig4_analytic(curves, (10, 7))
    axes[0][1].legend(fontsize=7)
    fig.suptitle("Latency-aware multi-stream transmission (analytic, Table I parameters)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_aware_fig4_measured(curves: pd.DataFrame, measured: pd.DataFrame, path: Path | None = None):
    """Fig. 4 equivalents with the packet-level ns-3 measurement on the analytic curves: lines
    are the analytic model (solid continuous rate, dashed discrete M), markers with 95 %
    intervals the semantic-link simulation (circles AWGN, triangles Rayleigh block fading),
    dotted lines the fading-averaged analytic reference of the Rayleigh points. Without a path
    the figure is returned (for notebooks) instead of written."""
    fig, axes, colours = _fig4_analytic(curves, (11, 7.5), label_prefix="analytic ", lw=1)
    fading_ref = {"latency_ms": None, "bits_per_symbol": "fading_bits_per_symbol", "prompt_retx": "fading_prompt_retx"}
    for ax, (col, _, scale) in zip(axes.flat, _FIG4_PANELS):
        for (scheme, fading, ber), d in measured.groupby(["scheme", "fading", "ber"]):
            d = d.sort_values("avg_snr_db")
            marker = "o" if fading == "awgn" else "^"
            face = colours.get(ber, "k") if scheme == "discrete" else "none"
            y = d[col].astype(float) * scale
            err = d[f"{col}_ci95"].astype(float) * scale if f"{col}_ci95" in d else None
            ax.errorbar(d["avg_snr_db"], y, yerr=err, fmt=marker, ms=4, capsize=2, color=colours.get(ber, "k"),
                        mfc=face, label=f"ns-3 {fading}, {scheme}, BER {ber:.0e}")
            ref = fading_ref.get(col)
            if fading == "rayleigh" and ref:
                ax.plot(d["avg_snr_db"], d[ref].astype(float) * scale, ":", color=colours.get(ber, "k"), lw=1)
            if fading == "rayleigh" and col == "latency_ms":
                ref_t = np.maximum(d["fading_prompt_latency_ms"].astype(float),
                                   d["fading_edge_latency_ms"].astype(float).fillna(0))
                ax.plot(d["avg_snr_db"], ref_t, ":", color=colours.get(ber, "k"), lw=1)
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=6.5, loc="lower center", ncol=3)
    fig.suptitle("Latency-aware multi-stream transmission: analytic (lines) vs ns-3 semantic link (markers)")
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return save_or_return(fig, path)
