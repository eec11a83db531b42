"""Scenario `latency_sweep`: the latency-aware paper's results from measured data.

    Table II   analytic (as scenario table2), beside the paper's values
    Fig. 2     Phi(BER): generation quality vs the edge-map BER, measured with our generator
    Fig. 4     prompt power share, latency, edge-map bits/symbol, prompt retransmissions vs the
               average SNR: analytic curves and the packet-level semantic-link simulation
    Lemma 1    with the measured Phi: the BER each quality target allows (generalised inverse)
               and the resulting latency-optimal allocation
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pandas as pd

from gensemcom.analysis import latency_aware as la
from gensemcom.analysis import phi_ber, plots
from gensemcom.campaign.tasks import Task, run_tasks, sweep_folder
from gensemcom.core.records import json_records as _json_records
from gensemcom.core.records import write_summary

from . import packet_points as link_sweep
from .phi import phi_job_tasks, read_phi_rows

log = logging.getLogger("gensemcom")


def _packet_tasks(cfg) -> list[Task]:
    s = cfg.latency_sweep
    grid = [(run, ber, snr) for run in s.packet_runs for ber in cfg.latency_aware.target_bers for snr in s.snr_db]
    # Each point its own ns-3 run number: with one shared run, every point would reuse the same
    # random draws and their sampling errors would be correlated (all of one sign).
    specs = [link_sweep.PointSpec(snr, ber, run.scheme, run.fading, s.units, cfg.seed * 100_000 + i + 1,
                                  s.outage_wait_s) for i, (run, ber, snr) in enumerate(grid)]
    la_cfg = cfg.latency_aware.model_dump()
    return [Task("gensemcom.scenarios.latency_aware.packet_points:measure_point_task",
                 {"spec": dataclasses.asdict(spec), "latency_aware": la_cfg},
                 f"{spec.scheme} {spec.fading} {spec.ber:g} {spec.avg_snr_db:g} dB") for spec in specs]


def _packet_level(folders: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, units = [], []
    for folder in folders:
        row, per_unit = link_sweep.read_point(folder)
        gaps = link_sweep.agreement(row)
        row.update({f"gap_{k}": v for k, v in gaps.items()}, reference=link_sweep.reference(row),
                   model_applies=row["fading"] == "awgn" or row["scheme"] == "discrete")
        rows.append(row)
        units.append(per_unit)
    return pd.DataFrame(rows), pd.concat(units, ignore_index=True)


def _agreement_summary(measured: pd.DataFrame, tolerance: float) -> dict:
    """Largest relative gap per quantity where the analytic model applies, and the points
    beyond the tolerance with their statistical intervals (a gap inside the 95 % interval of
    the measured mean is sampling noise, not a model error)."""
    out = {}
    applies = measured[measured["model_applies"]]
    for q, ci_col, col in (("prompt_latency", "prompt_latency_ms_ci95", "prompt_latency_ms"),
                           ("edge_latency", "edge_latency_ms_ci95", "edge_latency_ms"),
                           ("bits_per_symbol", "bits_per_symbol_ci95", "bits_per_symbol")):
        gaps = applies[f"gap_{q}"].dropna()
        if gaps.empty:
            continue
        rel_ci = (applies.loc[gaps.index, ci_col] / applies.loc[gaps.index, col]).fillna(0.0)
        beyond = applies.loc[gaps.index][gaps.abs() > tolerance]
        out[q] = {"points": int(len(gaps)), "max_abs_gap": float(gaps.abs().max()),
                  "median_abs_gap": float(gaps.abs().median()),
                  "within_tolerance": int((gaps.abs() <= tolerance).sum()),
                  "beyond_tolerance_but_within_ci": int(((gaps.abs() > tolerance) & (gaps.abs() <= rel_ci)).sum()),
                  "beyond": _json_records(beyond[["avg_snr_db", "ber", "scheme", "fading", f"gap_{q}", col, ci_col]])}
    return out


def _lemma1_with_phi(summary: pd.DataFrame, cfg, p: la.LinkParams) -> pd.DataFrame:
    """For each quality target: the largest BER the measured Phi allows (per edge-map format)
    and the latency-optimal allocation (Lemma 1, continuous rate) at that BER."""
    rows = []
    for fmt in cfg.latency_sweep.phi.formats:
        for target in cfg.latency_sweep.quality_targets:
            ber = phi_ber.max_ber_for(summary, target, fmt)
            usable = ber is not None and ber < 0.2  # Eq. (4) needs -ln(beta BER) > 0
            for snr in cfg.latency_sweep.snr_db:
                a = la.solve_lemma1(la.from_db(snr), ber, p) if usable else None
                rows.append({"format": fmt, "quality_target": target, "max_ber": ber, "avg_snr_db": snr,
                             "prompt_share": a.prompt_share if a else None,
                             "latency_ms": a.latency_s * 1e3 if a else None})
    return pd.DataFrame(rows)


def run(cfg, out: Path) -> dict:
    c, s = cfg.latency_aware, cfg.latency_sweep
    p = la.link_params(c)
    summary: dict = {"name": cfg.name, "results": str(out)}

    table = la.with_paper_values(la.table2(p, tuple(c.target_bers), c.grid_db, c.max_avg_snr_db))
    table.to_csv(out / "table2.csv", index=False)
    (out / "table2.txt").write_text(la.format_table2(table) + "\n")

    curves = pd.DataFrame(la.fig4_curves(p, tuple(c.target_bers)))
    curves.to_parquet(out / "fig4_analytic.parquet", index=False)
    # The packet-level points and the Phi jobs are independent: one pool of workers runs them
    # all (resumable: a rerun after an interruption runs only what is missing).
    packet_tasks = _packet_tasks(cfg)
    phi_tasks = phi_job_tasks(cfg) if s.phi.enabled else []
    # (the long Phi jobs first: the short points then fill the workers' last gaps)
    folders = run_tasks(phi_tasks + packet_tasks, sweep_folder(cfg, "latency_sweep"), s.engine,
                        "latency_sweep: Phi(BER) jobs and semantic-link points (ns-3)")
    measured, units = _packet_level(folders[len(phi_tasks):])
    measured.to_parquet(out / "fig4_packet.parquet", index=False)
    units.to_parquet(out / "fig4_packet_units.parquet", index=False)
    plots.latency_aware_fig4_measured(curves, measured, out / "fig4.png")
    summary["fig4_agreement"] = _agreement_summary(measured, s.agreement_tolerance)
    summary["agreement_tolerance"] = s.agreement_tolerance
    summary["multi_stream_faster_than_baseline_up_to_db"] = {
        f"{ber:.0e}": la.crossover_db(curves.to_dict("records"), ber) for ber in c.target_bers}

    if s.phi.enabled:
        rows = read_phi_rows(folders[:len(phi_tasks)])
        rows.to_parquet(out / "fig2_phi_rows.parquet", index=False)
        phi = phi_ber.summarise(rows)
        phi.to_parquet(out / "fig2_phi.parquet", index=False)
        phi_ber.plot(phi, out / "fig2_phi.png")
        summary["phi_monotonicity_violations"] = phi_ber.monotonicity(phi) + phi_ber.monotonicity(phi, "ms_ssim")
        summary["phi"] = _json_records(phi)
        lemma = _lemma1_with_phi(phi, cfg, p)
        lemma.to_parquet(out / "lemma1_with_phi.parquet", index=False)
        summary["max_ber_for_quality"] = _json_records(
            lemma[["format", "quality_target", "max_ber"]].drop_duplicates())
    write_summary(out, summary)
    return {**summary, "table": la.format_table2(table)}


def report(summary: dict) -> str:
    lines = [summary["table"], "Fig. 4, packet-level (ns-3 semantic link) vs analytic where the model applies:"]
    tolerance = summary["agreement_tolerance"]
    for q, a in summary["fig4_agreement"].items():
        lines.append(f"  {q}: {a['within_tolerance']}/{a['points']} points within "
                     f"{tolerance:.0%}, max |gap| {a['max_abs_gap']:.2%}, "
                     f"median {a['median_abs_gap']:.2%}; beyond the tolerance but inside the 95 % CI: "
                     f"{a['beyond_tolerance_but_within_ci']}")
    if "max_ber_for_quality" in summary:
        lines.append(f"largest edge-map BER per quality target (measured Phi): {summary['max_ber_for_quality']}")
        lines.append(f"Phi monotonicity violations: {summary['phi_monotonicity_violations'] or 'none'}")
    return "\n".join(lines)
