"""Per-direction LTE transport-block statistics from the packet trace (packets.parquet).

One function, `tb_stats`: the LTE channel's PHY summary (the `"lte"` entry of summary.json),
also used by the uplink tests. Rows it reads (ns3::SemanticTraceSink, semantic-trace-sink.cc):

- `phy_ul_tb` / `phy_dl_tb`: a TB that carried at least one MAC PDU, as the receiving PHY
  decoded it (LteSpectrumPhy UlPhyReception / DlPhyReception).
- `phy_ul_tb_empty` / `phy_dl_tb_empty`: an allocation without any MAC PDU (a UL grant the UE
  left unused, a DL allocation RLC did not fill). ns-3 evaluates it as a TB anyway (in UL on
  RBs without signal, so it "fails") and sends no HARQ feedback for it (docs/lte_uplink.md):
  counted apart, never as a TB.

Columns: `ok` 0 = TB failed decoding; `ndi` 0 = HARQ retransmission; `rv` = the HARQ round
(DL: the redundancy version, 0..3, one step per retransmission; UL: ns-3 reports the number of
earlier receptions of the process kept for soft combining, i.e. the round too).

A retransmission (ndi 0, round r >= 1) is matched to the oldest unmatched failure of round r-1
of the same cell, RNTI and TB size (a retransmission repeats its TB) at most `window_s` older
(ns-3 retransmits 7 ms after the failure in both directions, later in DL when no RBG is free).
A failure of round < max_retx that no retransmission follows is "not retransmitted" (HARQ
feedback lost or the retransmission dropped); one of round max_retx is a residual failure
(HARQ exhausted, left to RLC). Failures in the last `window_s` of the trace count as
"pending_at_end" (the run stopped before their retransmission was due).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque

import pandas as pd

# ns-3's FF schedulers allow 3 HARQ retransmissions (4 transmissions) in both directions
# (pf/rr/fdmt/tdmt-ff-mac-scheduler.cc; LteHarqPhy keeps at most 3 receptions per process).
NS3_MAX_HARQ_RETX = 3
EVENTS = {"ul": "phy_ul_tb", "dl": "phy_dl_tb"}


def wilson_ci95(failed: int, n: int) -> list[float] | None:
    """95 % Wilson interval of a BLER measured as failed / n (a few dozen TBs say little)."""
    if n == 0:
        return None
    z, p = 1.96, failed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _direction(tb: pd.DataFrame, max_retx: int, window_s: float, end_s: float) -> dict:
    tb = tb.sort_values("time_s", kind="stable")
    first = tb[tb["ndi"] == 1]
    retx = tb[tb["ndi"] == 0]
    stats = {
        "tbs": int(len(tb)),
        "first_transmissions": int(len(first)),
        "first_tx_failed": int((first["ok"] == 0).sum()),
        "first_tx_bler": float((first["ok"] == 0).mean()) if len(first) else None,
        "first_tx_bler_ci95": wilson_ci95(int((first["ok"] == 0).sum()), len(first)),
        "failed": int((tb["ok"] == 0).sum()),
        "harq_retransmissions": int(len(retx)),
        "retx_failed": int((retx["ok"] == 0).sum()),
        "max_round": int(tb["rv"].max()) if len(tb) else 0,
        "mcs_mean": float(first["mcs"].mean()) if len(first) else None,
    }
    pending: dict = defaultdict(deque)  # (cell, rnti, TB bytes, round) -> unmatched failure times
    orphan = residual = expired = 0
    for t, cell, rnti, size, rnd, ndi, ok in zip(tb["time_s"], tb["node"], tb["rnti"], tb["bytes"],
                                                 tb["rv"], tb["ndi"], tb["ok"]):
        rnd = int(rnd) if ndi == 0 else 0
        if ndi == 0:
            queue = pending[(cell, rnti, size, rnd - 1)]
            while queue and t - queue[0] > window_s:
                queue.popleft()
                expired += 1
            if queue:
                queue.popleft()
            else:
                orphan += 1
        if ok == 0:
            if rnd >= max_retx:
                residual += 1
            else:
                pending[(cell, rnti, size, rnd)].append(t)
    left = [t for queue in pending.values() for t in queue]
    at_end = sum(t > end_s - window_s for t in left)
    stats.update({
        "failed_not_retransmitted": len(left) - at_end + expired,
        "pending_at_end": at_end,
        "residual_failures": residual,
        "retx_without_failure": orphan,
    })
    return stats


def tb_stats(packets: pd.DataFrame, max_retx: int = NS3_MAX_HARQ_RETX, window_s: float = 0.05) -> dict:
    """{"ul": {...}, "dl": {...}, "max_harq_retx": n}: per direction the TBs, first-transmission
    BLER, failed TBs, HARQ retransmissions, failures never retransmitted, residual failures
    after the last HARQ round, the largest round seen, and the empty allocations."""
    end_s = float(packets["time_s"].max()) if len(packets) else 0.0
    out: dict = {}
    for direction, event in EVENTS.items():
        out[direction] = _direction(packets[packets["event"] == event], max_retx, window_s, end_s)
        empty = packets[packets["event"] == event + "_empty"]
        out[direction]["empty_allocations"] = int(len(empty))
    out["max_harq_retx"] = max_retx
    return out
