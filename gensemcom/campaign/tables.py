"""The campaign's tidy tables, rebuilt from its point folders (store.py says which)."""

from __future__ import annotations

import json
import math

import pandas as pd

from gensemcom.analysis.campaign import aggregate
from gensemcom.campaign.spec import Campaign
from gensemcom.campaign.store import Store, write_parquet_atomic

# Summary parts that describe a run rather than measure it: not default metrics.
NOT_METRICS = ("network", "wall_s", "results", "name", "seed")


def flatten(summary: dict, prefix: str = "") -> dict:
    """Numeric leaves of a summary by dotted key (lists and strings left out)."""
    out = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, (int, float)):
            out[name] = value
        elif value is None:
            out[name] = math.nan
    return out


def metric_values(summary: dict, metrics: list[str]) -> dict:
    flat = flatten(summary)
    if not metrics:
        return {k: v for k, v in flat.items() if k.split(".")[0] not in NOT_METRICS}
    return {m: flat.get(m, math.nan) for m in metrics}


def build_tables(campaign: Campaign, store: Store) -> dict[str, pd.DataFrame]:
    """points (one row per point of the campaign), units (their units.parquet rows) and the
    aggregate over seeds; written to the campaign folder."""
    finished, failures = store.finished(), store.failures()
    rows, units = [], []
    for point in campaign.points:
        row = {"point": point.id, **point.params}
        if point.id in finished:
            info = finished[point.id]
            summary = json.loads((store.point_dir(point.id) / "summary.json").read_text())
            row.update(status="ok", error=None, wall_s=info["wall_s"],
                       commit=info["provenance"].get("commit"), **metric_values(summary, campaign.spec.metrics))
            unit_file = store.point_dir(point.id) / "units.parquet"
            if unit_file.exists():
                u = pd.read_parquet(unit_file)
                for k, v in reversed(list({"point": point.id, **point.params}.items())):
                    u.insert(0, k if k not in u.columns else f"param.{k}", [v] * len(u))
                units.append(u)
        elif point.id in failures:
            row.update(status="failed", error=failures[point.id]["error"].splitlines()[0][:300])
        else:
            row.update(status="missing", error=None)
        rows.append(row)
    points = pd.DataFrame(rows)
    params = [a for a in campaign.axes if a != "seed"]
    fixed = {"point", *campaign.axes, "status", "error", "wall_s", "commit"}
    metrics = campaign.spec.metrics or [c for c in points.columns if c not in fixed]
    tables = {"points": points, "units": pd.concat(units, ignore_index=True) if units else pd.DataFrame(),
              "aggregate": aggregate(points, params, metrics)}
    for name, frame in tables.items():
        write_parquet_atomic(_parquet_safe(frame), store.folder / f"{name}.parquet")
    return tables


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Parameter columns may mix types or hold lists (e.g. image names): JSON text then."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            kinds = {type(v) for v in frame[col] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 or kinds & {list, dict, tuple}:
                frame[col] = frame[col].map(lambda v: None if v is None else json.dumps(v, default=str))
    return frame
