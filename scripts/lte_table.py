"""LTE link statistics per direction as a Markdown table, one row per run (docs/lte_uplink.md).

    # the scale table: 1, 5, 20, 50 sources (each run writes results/lte_scale_N/<time>/)
    .venv/bin/python scripts/lte_table.py configs/lte_scale_{1,5,20,50}.json
    # a variant: config keys by dotted name (JSON values), ns-3 defaults by attribute path
    .venv/bin/python scripts/lte_table.py configs/lte_scale_20.json --set lte.scheduler='"rr"' \\
        --set lte.link_adaptation.enabled=false --ns3 ns3::LteUePhy::EnableUplinkPowerControl=false
    # one source has ~10 UL TBs per run: pool seeds 1..10
    .venv/bin/python scripts/lte_table.py configs/lte_scale_1.json --seeds 10
    # only tabulate finished runs (--pool: add a row with their counts added up)
    .venv/bin/python scripts/lte_table.py --results results/lte_scale_20/20261130-131203

Each config runs in its own process (one simulation at a time). Columns: TBs that carried data,
first-transmission BLER with its 95 % interval, failed TBs, HARQ retransmissions, failures
never retransmitted / left after the last round, empty allocations (UL grants the UE did not
use, DL allocations RLC did not fill), and the units' fate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run_one(config: Path, sets: list[str], ns3_defaults: list[str]) -> None:
    from gensemcom.campaign.spec import set_key
    from gensemcom.config import ConfigError, load_config, parse_config
    from gensemcom.core import registry, run_folder
    from gensemcom.core.ns3 import load_ns

    try:  # dotted keys into the resolved config (every section present), as a campaign's "set"
        data = json.loads(load_config(config).resolved_json())
        for item in sets:
            key, _, value = item.partition("=")
            set_key(data, key, json.loads(value), "--set")
        cfg = parse_config(data)
    except ConfigError as exc:
        sys.exit(str(exc))
    ns = load_ns()
    for item in ns3_defaults:
        name, _, value = item.partition("=")
        ns.Config.SetDefault(name, ns.StringValue(value))
    run_folder.configure_logging()
    summary = registry.run(cfg)
    print(f"results: {summary['results']}")


def _cause(out: Path) -> str:
    """Why units were not delivered: sources that never got through (no LTE connection), units
    still waiting for the generator when the run stopped (drain time), or stuck in the downlink."""
    units = pd.read_parquet(out / "units.parquet")
    packets = pd.read_parquet(out / "packets.parquet")
    bad = units[~units.status.isin(["ok", "degraded"])]
    if bad.empty:
        return ""
    parts = []
    up = bad[bad.status == "undelivered_uplink"]
    if len(up):
        never = up[up.t_genai_first_rx.isna()].source.nunique()
        parts.append(f"{len(up)} uplink ({never} sources of which no packet ever reached the edge server)")
    down = bad[bad.status == "undelivered_downlink"]
    if len(down):
        end = float(packets.time_s.max())
        queued = down[down.t_generated > end]
        per_unit = units.t_generated.sort_values().diff().median()
        parts.append(f"{len(down)} downlink: {len(queued)} still in the GenAI compute queue at the stop "
                     f"({end:.2f} s; one unit every {per_unit:.2f} s, last generated at "
                     f"{units.t_generated.max():.2f} s), {len(down) - len(queued)} generated but not "
                     f"through the downlink")
    return "; ".join(parts)


def stats(out: Path) -> dict:
    from gensemcom.analysis.lte_stats import tb_stats

    packets = pd.read_parquet(out / "packets.parquet")
    units = pd.read_parquet(out / "units.parquet")
    cfg = json.loads((out / "config.json").read_text())
    s = tb_stats(packets)
    s["run"] = out.parent.name + "/" + out.name
    s["sources"] = sum(u["role"] == "source" for u in cfg["lte"]["ues"])
    s["units_ok"] = int(units.status.isin(["ok", "degraded"]).sum())
    s["units"] = len(units)
    s["cause"] = _cause(out)
    return s


def pool(runs: list[dict]) -> dict:
    """The runs' counts added up (e.g. one config over several seeds)."""
    from gensemcom.analysis.lte_stats import wilson_ci95

    out = {"run": f"pooled ({len(runs)} runs)", "sources": "/".join(sorted({str(r["sources"]) for r in runs})),
           "units_ok": sum(r["units_ok"] for r in runs), "units": sum(r["units"] for r in runs), "cause": ""}
    for d in ("ul", "dl"):
        x = {k: sum(r[d][k] for r in runs) for k in ("tbs", "first_transmissions", "first_tx_failed", "failed",
                                                        "harq_retransmissions", "failed_not_retransmitted",
                                                        "residual_failures", "empty_allocations")}
        n = x["first_transmissions"]
        x["first_tx_bler"] = x["first_tx_failed"] / n if n else None
        x["first_tx_bler_ci95"] = wilson_ci95(x["first_tx_failed"], n)
        out[d] = x
    return out


def row(s: dict) -> dict:
    r = {"run": s["run"], "sources": s["sources"]}
    for d in ("ul", "dl"):
        x = s[d]
        ci = x["first_tx_bler_ci95"] or [float("nan")] * 2
        r[f"{d} TBs"] = x["tbs"]
        r[f"{d} BLER1 % [95 % CI]"] = f"{100 * (x['first_tx_bler'] or 0):.1f} [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"
        r[f"{d} failed"] = x["failed"]
        r[f"{d} retx"] = x["harq_retransmissions"]
        r[f"{d} not retx / residual"] = f"{x['failed_not_retransmitted']} / {x['residual_failures']}"
        r[f"{d} empty"] = x["empty_allocations"]
    r["units ok / total"] = f"{s['units_ok']} / {s['units']}"
    r["not delivered, cause"] = s["cause"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="*", type=Path)
    ap.add_argument("--set", action="append", default=[], help="config key=JSON value (dotted key)")
    ap.add_argument("--ns3", action="append", default=[], help="ns-3 default, e.g. ns3::LteEnbRrc::SrsPeriodicity=80")
    ap.add_argument("--results", nargs="*", type=Path, default=[], help="tabulate these result folders")
    ap.add_argument("--pool", action="store_true", help="add a row with the results' counts added up")
    ap.add_argument("--seeds", type=int, default=0, help="run each config with seeds 1..N and add a pooled row")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _run_one(args.configs[0], args.set, args.ns3)
        return
    outs = list(args.results)
    jobs = [(c, []) for c in args.configs] if not args.seeds else \
        [(c, [f"seed={k}"]) for c in args.configs for k in range(1, args.seeds + 1)]
    for config, extra in jobs:
        cmd = [sys.executable, __file__, "--one", str(config)]
        for s in args.set + extra:
            cmd += ["--set", s]
        for s in args.ns3:
            cmd += ["--ns3", s]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("results: ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"{config}: run failed\n{proc.stderr[-3000:]}")
        outs.append(Path(lines[-1].removeprefix("results: ")))
        print(f"{config}: {outs[-1]}", file=sys.stderr)
    runs = [stats(o) for o in outs]
    rows = [row(r) for r in runs]
    if args.seeds or len(args.results) > 1 and args.pool:
        rows.append(row(pool(runs)))
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for r in rows:
        print("| " + " | ".join(str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
