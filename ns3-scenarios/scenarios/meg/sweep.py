"""Scenario `meg_sweep`: the `meg` section's run repeated over the series of `meg.sweep`
(response time vs UEs and vs edge servers, quality vs feature-channel SNR), one ns-3
simulation after the other in this process."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import meg_figures, meg_results
from gensemcom.config import Config, ConfigError, parse_config
from gensemcom.core import ns3, packet_trace, registry
from gensemcom.core.agent_set import AgentSet
from gensemcom.core.records import write_summary

from .engine import MegEngine, bridge_caller
from .simulation import agent_specs, images_of, messages_table, reference_run, request_rows, simulate


@dataclass(frozen=True)
class SweepPoint:
    series: str      # "ues" (response vs UEs), "ess" (response vs ESs), "snr" (quality vs SNR)
    x: float         # the swept value: UEs, ESs or SNR (dB)
    cfg: Config      # the scenario-meg run of this point

    @property
    def label(self) -> str:
        return f"{self.series}_{self.x:g}"


def sweep_points(cfg) -> list[SweepPoint]:
    """The sweep as scenario-meg configs, one per point, validated like a `meg` config."""
    s, m = cfg.meg.sweep, cfg.meg
    meg_keys = registry.COMMON_KEYS + registry.lookup("meg").sections
    base = {k: v for k, v in cfg.model_dump().items() if k in meg_keys}  # a meg config has no other sections
    d = m.ue_distances_m

    def point(series, x, protocols, ues, ess, snr, reference) -> SweepPoint:
        data = json.loads(json.dumps(base))  # a deep copy of plain data
        data["scenario"] = "meg"
        data["meg"].update(protocols=list(protocols), ue_distances_m=[d[i % len(d)] for i in range(ues)],
                           num_es=ess, snr_db=snr, reference=reference)
        try:
            return SweepPoint(series, float(x), parse_config(data))
        except ConfigError as exc:
            raise ConfigError(f"meg.sweep point {series}={x:g}:\n{exc}") from None

    # The response series skip the noiseless reference run: only the SNR series scores quality.
    points = [point("ues", n, s.ue_protocols, n, s.ue_num_es, m.snr_db, False)
              for n in s.ue_counts if s.ue_protocols]
    points += [point("ess", k, s.es_protocols, 1, k, m.snr_db, False) for k in s.es_counts if s.es_protocols]
    points += [point("snr", snr, s.snr_protocols, 1, s.snr_num_es, snr, m.reference)
               for snr in s.snr_db if s.snr_protocols]
    return points


def _sweep_agents(cfg, points: list[SweepPoint]) -> tuple[dict, dict]:
    """One agent process for the UE side and one for the ES side, shared by all nodes of that
    side in every point: the engine calls agents one at a time and the fixed compute model
    charges simulated time from each op's work, so which process computes changes nothing in
    the results, and the sweep loads the model twice instead of once per node and point."""
    most_ues = max(len(p.cfg.meg.ue_distances_m) for p in points)
    most_ess = max(p.cfg.meg.num_es for p in points)
    nodes = [f"ue{i}" for i in range(most_ues)] + [f"es{k}" for k in range(most_ess)]
    return agent_specs(cfg, ["ue", "es"]), {n: n[:2] for n in nodes}


def _grid_rows(pt: SweepPoint, engine: MegEngine, requests: pd.DataFrame, refs: dict) -> list[dict]:
    """The first image of ue0 per protocol as delivered (and, once, the input and the noiseless
    reference), PNG-encoded, for the Fig. 5-like grid."""
    q = requests.set_index("rid")
    rows = []
    for r in (r for r in engine.requests if r.ue_index == 0 and r.image_index == 0):
        rows.append({"protocol": r.protocol.name, "column": f"{pt.x:g} dB", "snr_db": pt.x,
                     "status": r.status, "psnr_db": q.loc[r.rid, "psnr_db"], "lpips": q.loc[r.rid, "lpips"],
                     "png": meg_results.png_bytes(r.result)})
        ref = refs.get(r.rid)
        rows.append({"protocol": r.protocol.name, "column": "noiseless", "snr_db": np.nan,
                     "status": "ok" if ref is not None else "missing", "psnr_db": np.nan, "lpips": np.nan,
                     "png": meg_results.png_bytes(ref)})
        rows.append({"protocol": "input", "column": "input", "snr_db": np.nan, "status": "ok",
                     "psnr_db": np.nan, "lpips": np.nan, "png": meg_results.png_bytes(r.original)})
    return rows


def run(cfg, out: Path) -> dict:
    t0 = time.perf_counter()
    points = sweep_points(cfg)
    specs, node_agent = _sweep_agents(cfg, points)
    requests, overheads, grid = [], [], []
    ref_cache: dict = {}
    wall: dict[str, float] = {}
    with AgentSet(specs, out, cfg.agents) as procs:
        ns = ns3.load_ns()  # overlapped with the agents' start-up
        procs.wait_ready()
        wall["agents_ready"] = time.perf_counter() - t0
        call = bridge_caller({node: procs[agent] for node, agent in node_agent.items()})
        for pt in tqdm(points, desc="MEG sweep points (ns-3 runs)", unit="point"):
            t1 = time.perf_counter()
            point_out = out / "points" / pt.label
            point_out.mkdir(parents=True)
            images = images_of(pt.cfg)
            engine, sim_end, _, trace = simulate(pt.cfg, ns, call, images)
            refs = {}
            if pt.cfg.meg.reference:
                # With the 'closest' pick rule the noiseless run does not depend on the noisy
                # one (same requests, same rids): one per series is enough.
                key = pt.series if pt.cfg.meg.pick == "closest" else pt.label
                if key not in ref_cache:
                    ref_cache[key] = reference_run(pt.cfg, call, images, engine)
                refs = ref_cache[key]
            packets = packet_trace.write(trace, point_out)
            messages = messages_table(engine)
            messages.to_parquet(point_out / "messages.parquet", index=False)
            req = request_rows(pt.cfg, engine, refs)
            where = {"series": pt.series, "x": pt.x, "point": pt.label, "ues": len(pt.cfg.meg.ue_distances_m),
                     "num_es": pt.cfg.meg.num_es}
            overheads.append(meg_results.overhead(messages, packets, req).assign(**where))
            requests.append(req.assign(**where, simulated_s=sim_end))
            if pt.series == "snr":
                grid += _grid_rows(pt, engine, req, refs)
            wall[pt.label] = time.perf_counter() - t1
    requests = pd.concat(requests, ignore_index=True)
    overhead = pd.concat(overheads, ignore_index=True)
    response, quality = meg_results.response_table(requests), meg_results.quality_table(requests)
    # The input and noiseless cells are the same at every SNR point: keep the first.
    grid = pd.DataFrame(grid).drop_duplicates(["protocol", "column"]) if grid else pd.DataFrame()
    for name, frame in (("requests", requests), ("overhead", overhead), ("response", response),
                        ("quality", quality), ("grid", grid)):
        frame.to_parquet(out / f"{name}.parquet", index=False)
    meg_figures.response_figure(response, out / "response.png")
    meg_figures.quality_figure(quality, out / "quality.png")
    if not grid.empty:
        meg_figures.grid_figure(grid, out / "grid.png", f"{cfg.images.names[0]}, '{cfg.meg.prompt}': delivered "
                                                   f"image per protocol and feature-channel SNR")
    md = meg_results.sweep_markdown(response, quality)
    (out / "sweep.md").write_text(md + "\n")
    wall["total"] = time.perf_counter() - t0
    summary = {
        "name": cfg.name, "seed": cfg.seed, "results": str(out), "points": [p.label for p in points],
        "requests": len(requests), "status_counts": requests["status"].value_counts().to_dict(),
        "response": json.loads(response.to_json(orient="records")),
        "quality": json.loads(quality.to_json(orient="records")),
        "quality_notes": [meg_results.SUBSTITUTE_NOTE, meg_results.fid_note()], "wall_s": wall, "markdown": md,
    }
    write_summary(out, summary)
    return summary


def report(summary: dict) -> str:
    return "\n".join([
        f"MEG sweep, {len(summary['points'])} ns-3 runs: response time (simulated) vs UEs / edge servers, "
        "quality vs feature-channel SNR:", summary["markdown"], f"requests: {summary['status_counts']}"])
