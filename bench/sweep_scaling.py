"""A paper sweep on 1 and on N workers of the campaign engine, in one command: the sweep's wall
time each way and the ratio.

    .venv/bin/python bench/sweep_scaling.py [--config configs/gen_semcom_sweep.json] [--workers 2]
                                            [--baseline CHECKOUT]

The config is run as `python -m gensemcom run` with its sweep's engine.workers set (the key
is the scenario's: latency_sweep.engine, meg.sweep.engine or gnl_sweep.engine), each time into
a fresh output folder, so nothing is resumed. --baseline CHECKOUT also runs the config with
another checkout (its own .venv), e.g. one from before the sweeps ran on the engine, whose
sequential loop is then the reference of the ratios. Run it on an otherwise idle machine; the
numbers in docs/results.md come from it.
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
ENGINE_KEY = {"latency_sweep": ("latency_sweep",), "meg_sweep": ("meg", "sweep"), "gnl_sweep": ("gnl_sweep",)}


def variant(config: dict, out: Path, workers: int | None) -> dict:
    data = json.loads(json.dumps(config))
    data["output_dir"] = str(out)
    if workers is not None:
        section = data
        for part in ENGINE_KEY[data["scenario"]]:
            section = section.setdefault(part, {})
        section["engine"] = {**section.get("engine", {}), "kind": "local", "workers": workers}
    return data


def timed_run(python: Path, checkout: Path, config: dict, tmp: Path, label: str) -> float:
    path = tmp / f"{label}.json"
    path.write_text(json.dumps(config))
    t0 = time.perf_counter()
    proc = subprocess.run([str(python), "-m", "gensemcom", "run", str(path)], cwd=checkout, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{label} failed:\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/gen_semcom_sweep.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", type=Path, help="another checkout to time the same config with (its own .venv)")
    args = ap.parse_args()
    config = json.loads((ROOT / args.config).read_text())
    if config.get("scenario") not in ENGINE_KEY:
        sys.exit(f"{args.config}: scenario {config.get('scenario')!r} is not one of {sorted(ENGINE_KEY)}")
    tmp = Path(tempfile.mkdtemp(prefix="gsc-sweep-bench-"))
    rows = []
    try:
        if args.baseline:
            base = args.baseline.resolve()
            rows.append((f"{base.name} (its own loop)",
                         timed_run(base / ".venv" / "bin" / "python", base, variant(config, tmp / "baseline", None),
                                   tmp, "baseline")))
        for w in (1, args.workers):
            rows.append((f"{w} worker{'s' * (w > 1)}",
                         timed_run(Path(sys.executable), ROOT, variant(config, tmp / f"w{w}", w), tmp, f"w{w}")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    reference = rows[0][1]
    print(f"{args.config} (scenario {config['scenario']}):")
    print(f"| run | wall (s) | speed-up vs {rows[0][0]} |")
    print("|---|---|---|")
    for label, wall in rows:
        print(f"| {label} | {wall:.1f} | {reference / wall:.2f}x |")


if __name__ == "__main__":
    main()
