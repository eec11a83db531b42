"""Scenario `meg`: mobile edge generation protocols over ns-3 LTE, one after the other.

Each UE and each edge server has its own agent process (role "meg") running its part of the
split model; every message's bytes cross ns-3 (LTE radio with AMC / HARQ / RLC and fading, EPC,
backhaul). The protocol logic is engine.py; simulation.py wires it to ns-3.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from gensemcom.analysis import meg_figures, meg_results
from gensemcom.core import ns3, packet_trace
from gensemcom.core.agent_set import AgentSet
from gensemcom.core.records import write_summary

from .engine import MegEngine, bridge_caller
from .simulation import agent_specs, images_of, messages_table, nodes_of, reference_run, request_rows, simulate


def _grid(cfg, engine: MegEngine, requests, out: Path) -> None:
    first = [r for r in engine.requests if r.ue_index == 0 and r.image_index == 0]
    if not first:
        return
    q = requests.set_index("rid")
    results = {r.protocol.name: r.result for r in first}
    captions = {r.protocol.name: f"{q.loc[r.rid, 'status']}, {q.loc[r.rid, 'psnr_db']:.1f} dB" for r in first}
    snr = "noiseless" if engine.snr_db is None else f"{engine.snr_db:g} dB"
    meg_figures.image_grid(first[0].original, results, captions, out / "grid.png",
                      f"{first[0].image}, '{cfg.meg.prompt}', feature channel SNR {snr}")


def run(cfg, out: Path) -> dict:
    t0 = time.perf_counter()
    wall: dict[str, float] = {}
    ues, ess = nodes_of(cfg)
    with AgentSet(agent_specs(cfg, [u for u, _ in ues] + ess), out, cfg.agents) as agents:
        ns = ns3.load_ns()  # overlapped with the agents' start-up
        agents.wait_ready()
        wall["agents_ready"] = time.perf_counter() - t0
        images = images_of(cfg)
        call = bridge_caller(agents)
        t1 = time.perf_counter()
        engine, sim_end, net_info, trace = simulate(cfg, ns, call, images)
        wall["simulate"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        refs = reference_run(cfg, call, images, engine) if cfg.meg.reference else {}
        wall["reference"] = time.perf_counter() - t1
    packets = packet_trace.write(trace, out)
    messages = messages_table(engine)
    requests = request_rows(cfg, engine, refs)
    table = meg_results.overhead(messages, packets, requests)
    quality = meg_results.per_protocol(requests)
    messages.to_parquet(out / "messages.parquet", index=False)
    requests.to_parquet(out / "requests.parquet", index=False)
    table.to_parquet(out / "overhead.parquet", index=False)
    quality.to_parquet(out / "protocols.parquet", index=False)
    md = meg_results.markdown(table, quality)
    (out / "overhead.md").write_text(md + "\n")
    meg_figures.figure(table, quality, requests, out / "meg.png")
    _grid(cfg, engine, requests, out)
    wall["total"] = time.perf_counter() - t0
    summary = {
        "name": cfg.name, "seed": cfg.seed, "results": str(out), "simulated_s": sim_end,
        "protocols": cfg.meg.protocols, "ues": len(ues), "edge_servers": len(ess), "snr_db": cfg.meg.snr_db,
        "latent_format": cfg.meg.latent_format, "image_format": cfg.meg.image_format,
        "requests": len(requests), "status_counts": requests["status"].value_counts().to_dict(),
        "overhead": json.loads(table.to_json(orient="records")),
        "per_protocol": json.loads(quality.to_json(orient="records")),
        "quality_notes": [meg_results.SUBSTITUTE_NOTE, meg_results.fid_note()],
        "network": net_info, "wall_s": wall, "markdown": md,
    }
    write_summary(out, summary)
    return summary


def report(summary: dict) -> str:
    return "\n".join([
        f"overhead per request (bits measured from the packets) and response time / quality per protocol, "
        f"{summary['ues']} UE(s), {summary['edge_servers']} ES(s), feature channel SNR {summary['snr_db']} dB:",
        summary["markdown"], f"requests: {summary['status_counts']}"])


