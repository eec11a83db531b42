"""Blocking vs pipelined vs pipelined + batched agent requests on one scenario (issue 16).

    .venv/bin/python bench/pipeline.py [--config configs/lte_scale_50.json] [--max-batch 8]
                                       [--batch-wait-ms 20] [--workers 2]
                                       [--modes blocking,pipelined,batched,workers]

Runs the config (default: 100 units from 50 sources) once per mode through the CLI (blocking,
pipelined, pipelined + batched, and that with several workers per agent role), each in a fresh
process, and prints per mode: the wall time of encoding + simulation (the part the mode
changes; start-up and metrics aside), the model time (the encoder's compute_s summed over its
requests plus the generator's, from summary.json wall_s.agent_busy: with several workers of a
role, the busiest worker's sum; the roles run one after the other, the encodings before the
simulation), the ns-3 time (simulation wall time less the time spent blocked waiting for the
generator), and the overhead wall - max(model, ns-3) as a % of wall. Ratios are against the
blocking mode. Then checks that every mode's packets.parquet is the same.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _run(config: dict, work: Path, name: str) -> Path:
    path = work / f"{name}.json"
    path.write_text(json.dumps({**config, "name": name, "output_dir": str(work / "results")}))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(path)], cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ))
    if proc.returncode != 0:
        sys.exit(f"{name}: the run failed:\n{proc.stderr[-3000:]}")
    out = Path([x for x in proc.stdout.splitlines() if x.startswith("results: ")][-1].removeprefix("results: "))
    print(f"  {name}: {time.perf_counter() - start:.0f} s in all, {out}", file=sys.stderr)
    return out


def measure(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    units = pd.read_parquet(out / "units.parquet")
    w = summary["wall_s"]
    # The models alone: the encodings, then the generations (the run encodes every unit before
    # the simulation starts), each role as long as its busiest worker.
    busy = w["agent_busy"]
    model = sum(max(v for name, v in busy.items() if name.split("-")[0] == role) for role in ("encoder", "generator"))
    ns3 = w["simulate"] - w["simulate_agent_wait"]
    wall = w["encode_and_simulate"]
    return {"wall_s": wall, "model_s": model, "ns3_s": ns3,
            "overhead_pct": 100 * (wall - max(model, ns3)) / wall,
            "total_s": w["total"], "ok_units": int(units["status"].isin(["ok", "degraded"]).sum()),
            "units": len(units)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/lte_scale_50.json")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--batch-wait-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="blocking,pipelined,batched,workers")
    args = parser.parse_args(argv)
    base = json.loads((ROOT / args.config).read_text())
    agents = base.get("agents", {})
    modes = {
        "blocking": {**agents, "pipeline": False},
        "pipelined": {**agents, "pipeline": True},
        "batched": {**agents, "pipeline": True, "max_batch": args.max_batch, "batch_wait_ms": args.batch_wait_ms},
    }
    modes["workers"] = {**modes["batched"], "workers": args.workers}
    chosen = args.modes.split(",")
    rows, outs = {}, {}
    with tempfile.TemporaryDirectory(prefix="gsc-bench-pipeline-") as tmp:
        for mode in chosen:
            outs[mode] = _run({**base, "agents": modes[mode]}, Path(tmp), f"pipeline_{mode}")
            rows[mode] = measure(outs[mode])
        packets = {m: pd.read_parquet(outs[m] / "packets.parquet") for m in chosen}
        same = {m: packets[m].equals(packets[chosen[0]]) for m in chosen}
    ref = rows[chosen[0]]
    print(f"config {args.config}: {ref['units']} units; max_batch {args.max_batch}, batch_wait_ms "
          f"{args.batch_wait_ms:g} (batched, workers); {args.workers} workers per agent role (workers)")
    print(f"{'mode':<10} {'wall s':>8} {'model s':>8} {'ns-3 s':>8} {'overhead':>9} {'speed-up':>9} "
          f"{'ok units':>9} {'packets':>10}")
    for mode in chosen:
        r = rows[mode]
        print(f"{mode:<10} {r['wall_s']:8.1f} {r['model_s']:8.1f} {r['ns3_s']:8.1f} {r['overhead_pct']:8.1f}% "
              f"{ref['wall_s'] / r['wall_s']:8.2f}x {r['ok_units']:>9} "
              f"{'same' if same[mode] else 'DIFFERENT':>10}")
    print("wall: encoding + simulation (start-up and metrics aside); model: the encoder's compute_s summed, plus "
          "the generator's (with several workers of a role, the busiest one's); "
          "ns-3: simulation wall less the wait for the generator; overhead: wall - max(model, ns-3), % of wall; "
          f"speed-up: {chosen[0]} wall / wall")


if __name__ == "__main__":
    main()
