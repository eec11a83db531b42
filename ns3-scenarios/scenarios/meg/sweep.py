"""Scenario `meg_sweep`: the `meg` section's run repeated over the series of `meg.sweep`
(response time vs UEs and vs edge servers, quality vs feature-channel SNR), each point one
ns-3 simulation, run as a sweep task (campaign.tasks) on meg.sweep.engine's workers."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gensemcom.analysis import meg_figures, meg_results
from gensemcom.config import Config, ConfigError, parse_config
from gensemcom.campaign.store import POINT_FILE
from gensemcom.campaign.tasks import Task, run_tasks, sweep_folder
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


# -- a point, as a sweep task (campaign.tasks) in a worker process --------------------------------

_AGENTS: dict[str, AgentSet] = {}   # this worker's UE-side and ES-side agents, by their specs


def _worker_agents(cfg, logs: Path) -> AgentSet:
    """One agent process for the UE side and one for the ES side per worker, shared by every
    node of that side in every point the worker runs: the engine calls agents one at a time and
    the fixed compute model charges simulated time from each op's work, so which process
    computes changes nothing in the results, and the models load once per worker."""
    specs = agent_specs(cfg, ["ue", "es"])
    key = json.dumps(specs, sort_keys=True)
    if key not in _AGENTS:
        for old in _AGENTS.values():
            old.stop()
        _AGENTS.clear()
        logs.mkdir(parents=True, exist_ok=True)
        agents = AgentSet(specs, logs, cfg.agents).__enter__()
        atexit.register(agents.stop)
        agents.wait_ready()
        _AGENTS[key] = agents
    return _AGENTS[key]


def point_task(out: Path, config: dict, series: str, x: float) -> None:
    """One point of the sweep: its packets, messages, requests, overhead (and grid) tables in
    `out`. The reference (noiseless) run is the point's own."""
    from gensemcom.core.torch_threads import one_torch_thread

    pt = SweepPoint(series, x, parse_config(config))
    cfg = pt.cfg
    # Agent logs beside the workers' own: the store's logs/ (a point runs in <store>/points/.tmp-*).
    agents = _worker_agents(cfg, out.parents[1] / "logs" / f"agents-{os.getpid()}")
    ues, ess = len(cfg.meg.ue_distances_m), cfg.meg.num_es
    call = bridge_caller({**{f"ue{i}": agents["ue"] for i in range(ues)}, **{f"es{k}": agents["es"] for k in range(ess)}})
    images = images_of(cfg)
    engine, sim_end, _, trace = simulate(cfg, ns3.load_ns(), call, images)
    refs = reference_run(cfg, call, images, engine) if cfg.meg.reference else {}
    packets = packet_trace.write(trace, out)
    messages = messages_table(engine)
    messages.to_parquet(out / "messages.parquet", index=False)
    # The metrics' networks on one thread: the same numbers with any number of workers
    # (Inception features differ by ~2e-6 between 1 and 2 threads).
    with one_torch_thread():
        req = request_rows(cfg, engine, refs)
    where = {"series": series, "x": pt.x, "point": pt.label, "ues": ues, "num_es": ess}
    meg_results.overhead(messages, packets, req).assign(**where).to_parquet(out / "overhead.parquet", index=False)
    req.assign(**where, simulated_s=sim_end).to_parquet(out / "requests.parquet", index=False)
    if series == "snr":
        pd.DataFrame(_grid_rows(pt, engine, req, refs)).to_parquet(out / "grid.parquet", index=False)


def _gather_agent_logs(logs: Path, out: Path) -> None:
    """out/agent-ue.log and agent-es.log: every worker's agent log of that side, one after the other."""
    for side in ("ue", "es"):
        parts = [f"== {f.parent.name} ==\n{f.read_text(errors='replace')}"
                 for f in sorted(logs.glob(f"agents-*/agent-{side}.log"))]
        (out / f"agent-{side}.log").write_text("\n".join(parts))


def run(cfg, out: Path) -> dict:
    t0 = time.perf_counter()
    points = sweep_points(cfg)
    tasks = [Task(f"{__name__}:point_task", {"config": json.loads(p.cfg.resolved_json()), "series": p.series,
                                             "x": p.x}, p.label) for p in points]
    store = sweep_folder(cfg, "meg_sweep")
    folders = run_tasks(tasks, store, cfg.meg.sweep.engine, "MEG sweep points (ns-3 runs)")
    _gather_agent_logs(store / "logs", out)
    requests, overheads, grid = [], [], []
    wall: dict[str, float] = {}
    for pt, folder in zip(points, folders):
        point_out = out / "points" / pt.label
        point_out.mkdir(parents=True)
        for name in ("packets.parquet", "messages.parquet"):
            shutil.copyfile(folder / name, point_out / name)
        requests.append(pd.read_parquet(folder / "requests.parquet"))
        overheads.append(pd.read_parquet(folder / "overhead.parquet"))
        if (folder / "grid.parquet").exists():
            grid += pd.read_parquet(folder / "grid.parquet").to_dict("records")
        wall[pt.label] = json.loads((folder / POINT_FILE).read_text())["wall_s"]
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
