"""Mobile edge generation results: the overhead table (the paper's Fig. 6) measured from the
packet trace, response time and quality per protocol, and their figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# The paper's Fig. 6 / Section IV for Stable Diffusion at its resolution: an image is 1.3 Mb, a
# latent (seed) 28 kb, CIAG moves 57 kb in all, x47.2 less than the centralised scheme. Cells the
# text does not state are derived from those numbers (marked in `paper_note`); none are given
# for ESUC's sketch or for the multi-ES protocols.
PAPER_IMAGE_BITS, PAPER_LATENT_BITS = 1.3e6, 28e3
PAPER_CIAG_TOTAL_BITS, PAPER_CIAG_REDUCTION = 57e3, 47.2
_CENTRAL = PAPER_CIAG_TOTAL_BITS * PAPER_CIAG_REDUCTION
PAPER = {  # protocol: (uplink, downlink, total, reduction, note)
    "full_ue": (0.0, 0.0, 0.0, None, "no transmission"),
    "full_es": (PAPER_IMAGE_BITS, PAPER_IMAGE_BITS, _CENTRAL, 1.0, "total = 57 kb x 47.2 (derived)"),
    "uieg": (PAPER_LATENT_BITS, PAPER_IMAGE_BITS, PAPER_LATENT_BITS + PAPER_IMAGE_BITS,
             _CENTRAL / (PAPER_LATENT_BITS + PAPER_IMAGE_BITS), "total and reduction derived"),
    "eiug": (PAPER_IMAGE_BITS, PAPER_LATENT_BITS, PAPER_LATENT_BITS + PAPER_IMAGE_BITS,
             _CENTRAL / (PAPER_LATENT_BITS + PAPER_IMAGE_BITS), "total and reduction derived"),
    "ciag": (PAPER_LATENT_BITS, PAPER_LATENT_BITS, PAPER_CIAG_TOTAL_BITS, PAPER_CIAG_REDUCTION, "stated"),
    "esuc": (PAPER_IMAGE_BITS, None, None, None, "sketch size not given"),
}


def overhead(messages: pd.DataFrame, packets: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    """Bits per request and protocol, measured from the packets: the payload bytes each node's
    app handed to ns-3 (`stream_tx`, semantic headers excluded, as the paper counts), split by
    direction with the message table (unit id = message id); the mean over the protocol's
    finished requests (a failed request's partial traffic is in messages.parquet)."""
    tx = packets[packets["event"] == "stream_tx"].groupby("unit")["bytes"].sum().rename("tx_bytes")
    # A message whose send time came after the simulation ended (its request had already
    # failed) never reached the air: it costs nothing.
    m = messages.join(tx, on="mid").fillna({"tx_bytes": 0})
    per_req = (m.pivot_table(index="rid", columns="direction", values="tx_bytes", aggfunc="sum", fill_value=0)
               .reindex(columns=["uplink", "downlink"], fill_value=0) * 8)
    ok = requests[requests["status"] == "ok"]
    per_req = ok[["rid", "protocol"]].join(per_req, on="rid").fillna({"uplink": 0, "downlink": 0})
    n_msgs = m.groupby("rid").size()
    per_req["messages"] = per_req["rid"].map(n_msgs).fillna(0)
    order = list(dict.fromkeys(requests["protocol"]))
    table = per_req.groupby("protocol", sort=False)[["uplink", "downlink", "messages"]].mean().reindex(order)
    table["requests_ok"] = ok.groupby("protocol").size().reindex(order).fillna(0).astype(int)
    table = table.rename(columns={"uplink": "uplink_bits", "downlink": "downlink_bits"})
    table["total_bits"] = table["uplink_bits"] + table["downlink_bits"]
    central = table["total_bits"].get("full_es", np.nan)
    table["reduction_vs_full_es"] = central / table["total_bits"].replace(0, np.nan)
    for i, col in enumerate(("paper_uplink_bits", "paper_downlink_bits", "paper_total_bits", "paper_reduction")):
        table[col] = [PAPER.get(p, (None,) * 5)[i] for p in table.index]
    table["paper_note"] = [PAPER.get(p, (None,) * 4 + ("not in the paper",))[4] for p in table.index]
    return table.reset_index()


def per_protocol(requests: pd.DataFrame) -> pd.DataFrame:
    """Response time and quality per protocol over its finished requests."""
    order = list(dict.fromkeys(requests["protocol"]))
    ok = requests[requests["status"] == "ok"]
    # PSNR is infinite for an image identical to its reference (full_ue vs its noiseless run).
    agg = ok.groupby("protocol").agg(
        requests_ok=("rid", "size"), response_s=("response_s", "mean"), response_max_s=("response_s", "max"),
        psnr_db=("psnr_db", "mean"), lpips=("lpips", "mean"),
        psnr_ref_db=("psnr_ref_db", "mean"), lpips_ref=("lpips_ref", "mean"))
    agg = agg.reindex(order)
    agg["requests"] = requests.groupby("protocol").size().reindex(order)
    agg["requests_ok"] = agg["requests_ok"].fillna(0).astype(int)
    return agg.reset_index()


def _bits(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    return f"{x / 1e6:.2f} Mb" if x >= 1e6 else f"{x / 1e3:.1f} kb"


def _num(x, fmt: str) -> str:
    if x is not None and x == np.inf:
        return "∞ (identical)"
    return "–" if x is None or not np.isfinite(x) else format(x, fmt)


def markdown(table: pd.DataFrame, quality: pd.DataFrame) -> str:
    q = quality.set_index("protocol")
    lines = ["| protocol | uplink | downlink | total | reduction vs centralised | paper: uplink | downlink | total | "
             "reduction | response (ms) | PSNR (dB) | LPIPS | PSNR vs noiseless (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        qr = q.loc[r["protocol"]] if r["protocol"] in q.index else {}
        lines.append("| " + " | ".join([
            r["protocol"], _bits(r["uplink_bits"]), _bits(r["downlink_bits"]), _bits(r["total_bits"]),
            "–" if not np.isfinite(r["reduction_vs_full_es"]) else f"x{r['reduction_vs_full_es']:.2f}",
            _bits(r["paper_uplink_bits"]), _bits(r["paper_downlink_bits"]), _bits(r["paper_total_bits"]),
            "–" if r["paper_reduction"] is None or not np.isfinite(r["paper_reduction"]) else f"x{r['paper_reduction']:.1f}",
            _num(qr.get("response_s", np.nan) * 1e3, ".0f"), _num(qr.get("psnr_db", np.nan), ".2f"),
            _num(qr.get("lpips", np.nan), ".3f"), _num(qr.get("psnr_ref_db", np.nan), ".2f")]) + " |")
    return "\n".join(lines)


def figure(table: pd.DataFrame, quality: pd.DataFrame, requests: pd.DataFrame, path: Path) -> None:
    """Bits per direction (log scale), response time per request, PSNR / LPIPS per protocol."""
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
    ax2.set_ylabel("LPIPS")
    ax.set_title("Quality of the delivered image")
    ax.legend(fontsize=7, loc="lower left")
    ax2.legend(fontsize=7, loc="lower right")
    for a in axes:
        a.set_xticks(x)
        a.set_xticklabels(names, rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
