"""Values as summary.json holds them: NaN and infinities become null (JSON has neither)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd


def finite_or_none(x) -> float | None:
    """A float, or None for a missing / NaN / infinite value."""
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def json_records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (JSON null, not the invalid NaN)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def write_summary(out: Path, summary: dict, default=str) -> None:
    """summary.json of a run (`default` converts what json cannot: str, or float for numpy
    scalars that must stay numbers)."""
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2, default=default))


def write_row(path: Path, row: dict) -> None:
    """One result row (a sweep point's) for read_row to give back exactly: numpy scalars become
    Python ones, NaN and infinities stay (as Python's JSON tokens NaN / Infinity)."""
    Path(path).write_text(json.dumps(row, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def read_row(path: Path) -> dict:
    return json.loads(Path(path).read_text())
