"""Campaign scaling: the same campaign of short ns-3 points (latency_sweep's packet-level
semantic link, Rayleigh fading, no models) with 1 and then 2 local workers, in one command.

    .venv/bin/python bench/campaign_scaling.py [--points 16] [--units 3000] [--workers 2]

Prints per worker count the campaign's wall time, the start-up (driver and workers starting,
each worker's one ns-3 import: until the last worker's first point starts), the points' own
run time (point.json wall_s, measured in the worker around the scenario's run), the per-point
overhead (a worker's gap between the end of one point and the start of its next, relative to
the point's run time) and the speed-up. Run it on an otherwise idle machine; the numbers in
docs/results.md come from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def campaign(name: str, tmp: Path, points: int, units: int, workers: int) -> dict:
    return {
        "name": name, "output_dir": str(tmp),
        "base": {"name": "bench", "scenario": "latency_sweep",
                 "latency_sweep": {"snr_db": [15.0], "units": units, "phi": {"enabled": False},
                                   "packet_runs": [{"scheme": "discrete", "fading": "rayleigh"}]}},
        "grid": {"latency_sweep.snr_db.0": {"linspace": [6.0, 27.0, points]}},
        "engine": {"kind": "local", "workers": workers},
    }


def run(spec: dict, tmp: Path) -> dict:
    path = tmp / f"{spec['name']}.json"
    path.write_text(json.dumps(spec))
    t0, t_launch = time.perf_counter(), time.time()
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "campaign", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"campaign {spec['name']} failed:\n{proc.stderr[-3000:]}")
    folder = tmp / "campaigns" / spec["name"]
    points = sorted((json.loads(f.read_text()) for f in folder.glob("points/*/point.json")),
                    key=lambda p: p["started_unix"])
    by_worker: dict[int, list] = {}
    for p in points:
        by_worker.setdefault(p["worker_pid"], []).append(p)
    gaps, followed = [], []
    for seq in by_worker.values():
        for a, b in zip(seq, seq[1:]):
            gaps.append(b["started_unix"] - a["started_unix"] - a["wall_s"])
            followed.append(a["wall_s"])
    return {"workers": spec["engine"]["workers"], "points": len(points), "wall_s": wall,
            "startup_s": max(seq[0]["started_unix"] for seq in by_worker.values()) - t_launch,
            "point_s_mean": sum(p["wall_s"] for p in points) / len(points),
            "overhead": sum(gaps) / sum(followed) if followed else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=16)
    # ~5 s of simulation per point: a worker's one ns-3 import (~11 s) is then spread over many.
    ap.add_argument("--units", type=int, default=3000, help="units per point (sets a point's simulation time)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gsc-campaign-bench-"))
    try:
        rows = [run(campaign(f"w{w}", tmp, args.points, args.units, w), tmp) for w in (1, args.workers)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| workers | points | campaign wall (s) | start-up (s) | mean point run (s) | overhead per point |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['points']} | {r['wall_s']:.1f} | {r['startup_s']:.1f} | {r['point_s_mean']:.2f} "
              f"| {100 * r['overhead']:.1f} % |")
    print(f"speed-up with {args.workers} workers: {rows[0]['wall_s'] / rows[1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
