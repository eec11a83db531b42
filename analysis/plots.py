"""Figures written by every run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


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
        "uplink (LTE UL + backhaul)": done["t_genai_ready"] - done["t_sent"],
        "GenAI queue + compute": done["t_generated"] - done["t_genai_ready"],
        "downlink (backhaul + LTE DL)": done["t_delivered"] - done["t_generated"],
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
    """ns-3 marks a HARQ retransmission with NDI 0; it reports rv > 0 only in the downlink."""
    return (tb["ndi"] == 0) | (tb["rv"] > 0)


def lte_phy_activity(packets: pd.DataFrame, path: Path) -> None:
    """MCS of every LTE transport block over time (AMC), HARQ retransmissions and failures."""
    tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
    if tb.empty:
        return
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for ax, (event, title) in zip(axes, [("phy_ul_tb", "uplink"), ("phy_dl_tb", "downlink")]):
        d = tb[tb["event"] == event]
        retransmitted = harq_retransmission(d)
        first, retx = d[~retransmitted], d[retransmitted]
        failed = d[d["ok"] == 0]
        ax.scatter(first["time_s"], first["mcs"], s=4, label="first transmission")
        ax.scatter(retx["time_s"], retx["mcs"], s=10, marker="^", label="HARQ retransmission")
        ax.scatter(failed["time_s"], failed["mcs"], s=12, marker="x", label="TB decode failed")
        ax.set_ylabel(f"{title} MCS")
        ax.legend(fontsize=7, loc="lower right")
    axes[-1].set_xlabel("simulated time (s)")
    fig.suptitle("LTE PHY: AMC (MCS) and HARQ activity")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
