"""Flows measured from a GNL run's packet trace, in bpp per period: each GenAI node's prompt
and generated rates from its units' completions, classical data at d, and every link's flow."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gensemcom.constants import P2P_LOWER_HEADER_BYTES as LOWER_HEADERS

ORIGINAL_UNIT_BASE = 1_000_000   # unit ids of the original data sent on the classical paths


def _unit_rate_bits(events: pd.DataFrame, warmup: int) -> tuple[float, float, float]:
    """Rate of a periodic unit flow from its completions: bytes of units warmup+1..n over the
    time from completion warmup to n. Returns (bit/s, window start, window end)."""
    done = events.sort_values("time_s")
    if len(done) < warmup + 2:
        raise RuntimeError(f"only {len(done)} units completed: too few to measure a rate (warm-up {warmup}); "
                           "raise images.repeat")
    window = done.iloc[warmup:]
    t0, t1 = window["time_s"].iloc[0], window["time_s"].iloc[-1]
    return 8.0 * window["bytes"].iloc[1:].sum() / (t1 - t0), t0, t1


def _packet_rate_bits(times: pd.Series, payload_bytes: pd.Series) -> float:
    """Rate of a packet stream from its own first and last packet: a window that starts and ends
    between packets would count one packet more or less, and a low-rate packet is a large part
    of a few seconds' flow."""
    if len(times) < 2:
        return 0.0
    order = np.argsort(times.to_numpy(), kind="stable")
    t, b = times.to_numpy()[order], payload_bytes.to_numpy()[order]
    return 8.0 * b[1:].sum() / (t[-1] - t[0]) if t[-1] > t[0] else 0.0


def measure_flows(packets: pd.DataFrame, genai: list, genai_of: dict, header: int, warmup: int, bps_per_bpp: float):
    """Measured flows in bpp per period: each GenAI node's prompt and generated rates from its
    units' completions, classical data at d over the window where every generated flow runs."""
    rx = packets[packets["event"] == "stream_rx"]
    measured, windows = {}, []
    generated_at_d = rx[(rx["node"] == "d") & (rx["unit"] < ORIGINAL_UNIT_BASE)]
    for n in genai:
        prompt_bits, _, _ = _unit_rate_bits(rx[rx["node"] == n], warmup)
        mine = generated_at_d[generated_at_d["unit"].map(genai_of) == n]
        gen_bits, t0, t1 = _unit_rate_bits(mine, warmup)
        windows.append((t0, t1))
        measured[f"prompt[{n}]"] = prompt_bits / bps_per_bpp
        measured[f"generated[{n}]"] = gen_bits / bps_per_bpp
        measured[f"y[{n}]"] = measured[f"generated[{n}]"] - measured[f"prompt[{n}]"]
    measured["y"] = sum(measured[f"y[{n}]"] for n in genai)
    t0, t1 = max(w[0] for w in windows), min(w[1] for w in windows)
    if t1 <= t0:
        raise RuntimeError("the generated flows of the GenAI nodes never run at the same time: raise images.repeat")
    orig = packets[(packets["event"] == "rx") & (packets["node"] == "d") & (packets["unit"] >= ORIGINAL_UNIT_BASE)
                   & (packets["time_s"] > t0) & (packets["time_s"] <= t1)]
    measured["classical"] = _packet_rate_bits(orig["time_s"], orig["bytes"] - header) / bps_per_bpp
    measured["delivered"] = measured["classical"] + sum(measured[f"generated[{n}]"] for n in genai)
    return measured, (t0, t1), int(len(generated_at_d))


def edge_table(graph, flow, routes, packets, window, header, bps_per_bpp) -> pd.DataFrame:
    """Per edge: capacity, the analytic prompt / generated / classical flows and the payload
    rate measured on it (packets sent by the edge's tail towards its head, over the window)."""
    t0, t1 = window
    classical = {}
    for r in routes:
        if r.kind == "classical":
            for e in zip(r.path, r.path[1:]):
                classical[e] = classical.get(e, 0.0) + r.flow
    hops = packets[(packets["event"] == "link_tx") & (packets["time_s"] > t0) & (packets["time_s"] <= t1)]
    rows = []
    for u, v, data in graph.edges(data=True):
        p, q = (max(0.0, f) for f in flow.edge_flows[(u, v)])  # the LP's -0.0
        row = {"u": u, "v": v, "capacity": data["capacity"], "prompt_flow": p, "generated_flow": q,
               "classical_flow": classical.get((u, v), 0.0)}
        row["analytic_flow"] = p + q + row["classical_flow"]
        frames = hops[hops["node"] == f"{u}>{v}"]
        row["measured_flow"] = _packet_rate_bits(frames["time_s"], frames["bytes"] - LOWER_HEADERS - header) / bps_per_bpp
        rows.append(row)
    return pd.DataFrame(rows)
