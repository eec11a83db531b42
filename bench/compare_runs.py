"""Are two results folders of the same config the same run? Every Parquet / CSV table equal
(wall-time columns aside) and every summary.json value equal (wall times and paths aside).

    .venv/bin/python bench/compare_runs.py results/gen_semcom/<before> results/gen_semcom/<after>

Prints one line per table and the summary values that differ; exits 1 unless identical.
Used to check that a refactoring changes nothing: run a config before and after, compare.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

WALL = {"encode_wall_s", "generate_wall_s", "compute_s", "wall_s", "failed_at_unix_s"}


def _flat(d, prefix: str = "") -> dict:
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            if k not in ("wall_s", "results"):
                out.update(_flat(v, f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(d, list):
        out = {}
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: d}


def _same_file_elsewhere(x, y) -> bool:
    """Two absolute paths to the same file name (a cache in another checkout)."""
    return (isinstance(x, str) and isinstance(y, str) and x.startswith("/") and y.startswith("/")
            and Path(x).name == Path(y).name)


def compare(base: Path, new: Path) -> bool:
    same = True
    for f in sorted(base.glob("*.parquet")) + sorted(base.glob("*.csv")):
        g = new / f.name
        if not g.exists():
            print(f"missing   {f.name}")
            same = False
            continue
        a = pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f)
        b = pd.read_parquet(g) if g.suffix == ".parquet" else pd.read_csv(g)
        # Wall-time columns of either side (a run of an older version may lack a newer one).
        def wall(frame):
            return [c for c in frame.columns if c in WALL or c.endswith("_wall_s")]
        a, b = a.drop(columns=wall(a)), b.drop(columns=wall(b))
        try:
            pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)
            print(f"same      {f.name} {a.shape}")
        except AssertionError as exc:
            print(f"different {f.name}: {str(exc).splitlines()[0]}")
            same = False
    sa = _flat(json.loads((base / "summary.json").read_text()))
    sb = _flat(json.loads((new / "summary.json").read_text()))
    diff = {k: (sa.get(k), sb.get(k)) for k in sorted(set(sa) | set(sb))
            if sa.get(k) != sb.get(k) and not _same_file_elsewhere(sa.get(k), sb.get(k))}
    for k, (x, y) in diff.items():
        print(f"summary   {k}: {x!r} -> {y!r}")
    same = same and not diff
    print("IDENTICAL" if same else "DIFFERENT")
    return same


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
