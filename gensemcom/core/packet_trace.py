"""The packet trace of a run (packets.parquet). One C++ SemanticTraceSink per simulation is
connected to the ns-3 trace sources of the apps, links and PHYs, collects the rows in C++ (no
Python code runs per packet) and hands them over once, at the end:

    trace = packet_trace.create(ns)
    app = ns3.install_semantic_app(ns, node, "ue", ..., trace=trace)   # trace.ConnectApp
    net = p2p_graph.build(ns, graph, trace=trace)                      # trace.ConnectLinkTx
    net = semantic_link.build_link(ns, link, seed, trace=trace)        # trace.ConnectSemanticLink
    trace.ConnectLtePhy()                                              # once the LTE devices exist
    net = nr.build_cell(ns, cell, seed, trace=trace)                   # trace.ConnectNr
    ... run ...
    packets = packet_trace.write(trace, out)

Columns: time_s, node, event, unit, stream, seq, bytes, mcs, rv, ndi, ok, rnti (-1: not
applicable); the events are listed in semantic-trace-sink.h. A trace with an NR cell connected
has five more: slot, prb, sym, tbs, sinr_db (its TB rows; -1 and NaN on the others).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd


def create(ns):
    """A new, empty ns3::SemanticTraceSink for one simulation."""
    return ns.CreateObject[ns.cppyy.gbl.ns3.SemanticTraceSink]()


def table(trace) -> pd.DataFrame:
    """The rows collected so far (read through one CSV file that C++ writes in one go)."""
    with tempfile.TemporaryDirectory(prefix="gsc-trace-") as tmp:
        csv = Path(tmp) / "packets.csv"
        trace.WriteCsv(str(csv))
        return pd.read_csv(csv, dtype={"node": "string", "event": "string"})


def write(trace, out: Path) -> pd.DataFrame:
    """The trace as out/packets.parquet; returns it."""
    packets = table(trace)
    packets.to_parquet(Path(out) / "packets.parquet", index=False)
    return packets
