"""Scenario `gnl_sweep`: the generative network layer's curves and flow optimisation (paper
generative-network-layer.md, Figs. 2-4), from measured data, no ns-3.

    ./run.sh configs/gnl_sweep.json

Curves: pe, ps_<rate>, hybrid_<rate> (latent + reduced original, agents.hybrid), implicit
(camera-pan sequences, missing frames predicted from the received ones, agents.implicit), jpeg,
jpeg_ps; see analysis.gnl_curves. Writes:

    points.parquet      every curve point: curve, base, gamma (PS), factor (hybrid; inf = the codec
                        alone, 1 = the exact end point), keep_every (implicit k), bpp (x: every
                        byte sent), prompt_bpp (the latent / codec part), normalised_mse, fid,
                        fid_vs_inverted, n_images, fid_set ("images"; "pan frames" for implicit, a
                        different FID set), normalised_mse_hold (implicit: the hold-last-frame
                        baseline), exact (end points not measured), scheme, delta_D, delta_P
    fits.parquet        family, parameters, r^2 per curve and metric
    fig4.parquet        optimal prompt size, objective, G_flow per c_sg, w, curve, metric
    claims.parquet      the paper's claims checked (first 7 rows), then our hybrid / implicit
                        comparisons ("not in the paper")
    gains_over_jpeg.parquet  flow gain of each curve over JPEG at gnl.c_sg, claim weights
    fig2_rate_perception.png, fig3_rate_distortion.png   measured points and fits, all curves
    fig4_prompt_size_and_gain.png, fig4_vs_capacity.png  the optimisation (Fig. 4a/4b, c_sg sweep)
    summary.json        the above in one file, with image-set and implicit-sequence info
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from gensemcom.analysis import gnl_curves as gc
from gensemcom.analysis import gnl_figures
from gensemcom.core.records import write_summary

from .curve_points import measure_points


def _markdown(frame: pd.DataFrame, floats: str = "{:.4g}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(floats.format(v) if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)


def run(cfg, out: Path) -> dict:
    import torch

    torch.set_num_threads(1)  # a shared 2-core machine; also keeps the features reproducible
    sw, g = cfg.gnl_sweep, cfg.gnl

    points, info = measure_points(cfg)
    fit_table, fits, fid_max = gc.fit_all(points, sw.families)
    settings = [(g.c_sg, w) for w in sw.weights + sw.claim_weights] + [(c, w) for c in sw.c_sg_values for w in sw.claim_weights]
    opt = gc.optimise(fits, g, settings, sw.optimiser_grid)
    claims, gains = gc.claims(fits, opt, sw.codec_rates, sw.claim_weights, g.c_sg, points)

    points.to_parquet(out / "points.parquet", index=False)
    fit_table.to_parquet(out / "fits.parquet", index=False)
    opt.to_parquet(out / "fig4.parquet", index=False)
    claims.to_parquet(out / "claims.parquet", index=False)
    gains.to_parquet(out / "gains_over_jpeg.parquet", index=False)
    n = info["n_images"]
    gnl_figures.plot_curves(points, fits, "P", out / "fig2_rate_perception.png",
                   f"Fig. 2: rate-perception, FID / {fid_max:.0f} (PE fit at 0 bpp), {n} images\n"
                   f"(implicit: FID over {info['implicit']['n_frames']} pan frames, a different set)")
    gnl_figures.plot_curves(points, fits, "D", out / "fig3_rate_distortion.png",
                   f"Fig. 3: rate-distortion, MSE / MSE(colour-inverted), {n} images\n"
                   f"(implicit: mean over {info['implicit']['n_frames']} pan frames)", symlog=1e-3)
    gnl_figures.plot_fig4(opt, g.c_sg, out / "fig4_prompt_size_and_gain.png")
    gnl_figures.plot_capacity(opt, sw.claim_weights, out / "fig4_vs_capacity.png")

    fit_md = _markdown(fit_table[["curve", "metric", "family", "formula", "params", "r2", "adj_r2", "n_points"]])
    fig4 = opt[(opt["c_sg"] == g.c_sg) & opt["feasible"]].pivot_table(
        index=["metric", "weight"], columns="curve", values=["prompt_bpp", "flow_gain"]).round(3)
    capacity = opt[opt["weight"].isin(sw.claim_weights) & (opt["metric"] == "P")].pivot_table(
        index=["weight", "c_sg"], columns="curve", values="flow_gain").round(3)
    summary = {"name": cfg.name, "results": str(out), **info, "fid_max_pe_fit_at_0": fid_max,
               "capacities": {"c_sr": g.c_sr, "c_rd": g.c_rd, "c_sg": g.c_sg, "c_gd": g.c_gd, "L": gc.RAW_BPP},
               "fits": fit_table.to_dict("records"), "claims": claims.to_dict("records"),
               "gains_over_jpeg": gains.to_dict("records")}
    write_summary(out, summary, default=float)
    return {**summary, "fits_markdown": fit_md, "claims_markdown": _markdown(claims),
            "fig4_text": fig4.to_string(), "capacity_text": capacity.to_string()}


def report(summary: dict) -> str:
    imp = summary["implicit"]
    cfg = summary["capacities"]
    return "\n".join([
        f"curve fits ({summary['n_images']} images, FID normalised by the PE fit at 0 bpp = "
        f"{summary['fid_max_pe_fit_at_0']:.1f}):",
        summary["fits_markdown"],
        f"(implicit: {imp['n_frames']} pan frames, {imp['sequences']} sequences x {imp['frames_per_sequence']}, "
        "FID against the original frames: a different set from the images of the other curves)",
        f"\nFig. 4a/4b at c_sg = {cfg['c_sg']} bpp: optimal prompt size (bpp) and G_flow per quality weight w:",
        summary["fig4_text"], "\nG_flow vs c_sg (perception):", summary["capacity_text"],
        "\nclaims of the paper, checked:", summary["claims_markdown"]])
