"""The radio comparison tables of the README (LTE vs NR, NR latency vs numerology and distance),
as Markdown, from a campaign of the default scenario:

    ./run.sh configs/campaigns/lte_vs_nr.json      (or nr_latency.json), then
    .venv/bin/python scripts/radio_table.py lte_vs_nr     [--output-dir results]

One row per point: its parameters, units delivered, the mean latency and its split (encoding,
uplink = radio UL + backhaul, GenAI queue + compute, downlink = backhaul + radio DL), and per
direction the first-transmission BLER and the HARQ retransmissions / largest HARQ round of the
channel's transport blocks (summary.json's `lte` or `nr` entry).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PARTS = {"encode": ("t_arrival", "t_sent"), "uplink": ("t_sent", "t_genai_ready"),
         "GenAI": ("t_genai_ready", "t_generated"), "downlink": ("t_generated", "t_delivered")}


def _ms(x: float) -> str:
    return "–" if pd.isna(x) else f"{1e3 * x:.1f}"


def table(folder: Path) -> str:
    points = pd.read_parquet(folder / "points.parquet")
    units = pd.read_parquet(folder / "units.parquet")
    spec = json.loads((folder / "campaign.json").read_text())
    axes = [a for a in spec["axes"] if a != "seed"]
    base_channel = json.loads((folder / "points" / points["point"].iloc[0] / "config.json").read_text())["channel"]
    head = axes + ["units delivered", "latency (ms)"] + [f"{p} (ms)" for p in PARTS] + [
        "UL BLER (1st tx)", "DL BLER (1st tx)", "HARQ retx UL / DL", "max HARQ round UL / DL"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, p in points.iterrows():
        if p["status"] != "ok":
            lines.append("| " + " | ".join([str(p[a]) for a in axes] + [f"failed: {p['error']}"]) + " |")
            continue
        u = units[units["point"] == p["point"]]
        done = u[u["status"].isin(["ok", "degraded"])]
        split = [_ms((done[b] - done[a]).mean()) for a, b in PARTS.values()]
        ch = p["channel"] if "channel" in p else base_channel

        def stat(direction, key):
            return p.get(f"{ch}.{direction}.{key}")

        bler = [f"{stat(d, 'first_tx_bler'):.3f} ({int(stat(d, 'first_transmissions'))})"
                if pd.notna(stat(d, "first_tx_bler")) else "–" for d in ("ul", "dl")]
        retx = " / ".join(str(int(stat(d, "harq_retransmissions"))) for d in ("ul", "dl"))
        rounds = " / ".join(str(int(stat(d, "max_round"))) for d in ("ul", "dl"))
        row = [str(p[a]) for a in axes] + [f"{len(done)}/{len(u)}", _ms(done["latency_s"].mean())] + split + bler + [
            retx, rounds]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("campaign", help="campaign name (its folder is <output-dir>/campaigns/<name>/)")
    ap.add_argument("--output-dir", default="results")
    args = ap.parse_args()
    folder = ROOT / args.output_dir / "campaigns" / args.campaign
    if not (folder / "points.parquet").is_file():
        sys.exit(f"{folder}: no campaign tables (run ./run.sh configs/campaigns/{args.campaign}.json first)")
    print(table(folder))


if __name__ == "__main__":
    main()
