"""The packet trace of a run: the C++ extension collects one row per event (packets, units,
transport blocks) without a Python call per packet, and it is written once, at the end, as
packets.parquet."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd


def clear(ns) -> None:
    """Forget the rows of a previous simulation in this process."""
    ns.cppyy.gbl.ns3.GscTraceLog.Clear()


def table(ns) -> pd.DataFrame:
    """The rows so far (read through a CSV that C++ writes in one go)."""
    with tempfile.TemporaryDirectory(prefix="gsc-trace-") as tmp:
        csv = Path(tmp) / "packets.csv"
        if not ns.cppyy.gbl.ns3.GscTraceLog.WriteCsv(str(csv)):
            raise OSError(f"could not write {csv}")
        return pd.read_csv(csv, dtype={"node": "string", "event": "string"})


def write(ns, out: Path) -> pd.DataFrame:
    """The rows so far as out/packets.parquet; returns them."""
    packets = table(ns)
    packets.to_parquet(Path(out) / "packets.parquet", index=False)
    return packets
