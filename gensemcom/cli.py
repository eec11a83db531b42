"""Command line: ``python -m gensemcom {run,validate,config-doc,rate-quality} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from gensemcom.config import Config, ConfigError, load_config


def _config_doc(model=Config, prefix: str = "") -> list[str]:
    """One Markdown table row per config key, from the schema's Field descriptions."""
    from pydantic import BaseModel

    lines = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):
            lines += _config_doc(f.annotation, key + ".")
            continue
        if f.is_required():
            default = "required"
        else:
            value = f.get_default(call_default_factory=True)
            if isinstance(value, list):
                value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
            default = json.dumps(value)
        lines.append(f"| `{key}` | `{default}` | {f.description or ''} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gensemcom", description="Generative semantic communication co-simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run a scenario config end to end")
    p_run.add_argument("config")
    p_val = sub.add_parser("validate", help="validate a config and print it resolved")
    p_val.add_argument("config")
    sub.add_parser("config-doc", help="print the config key reference (Markdown)")
    p_rq = sub.add_parser("rate-quality", help="measure the rate-quality table (scenario rate_quality)")
    p_rq.add_argument("--config", default="configs/rate_quality.json")
    args = parser.parse_args(argv)

    if args.cmd == "config-doc":
        print("| key | default | meaning |\n|---|---|---|")
        print("\n".join(_config_doc()))
        return 0
    try:
        cfg = load_config(args.config)
        if args.cmd == "rate-quality" and cfg.scenario != "rate_quality":
            raise ConfigError(f"config error: {args.config}: scenario must be 'rate_quality' for rate-quality")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.cmd == "validate":
        print(cfg.model_dump_json(indent=2))
        return 0

    if cfg.scenario == "table2":
        from gensemcom.table2 import run_table2

        summary = run_table2(cfg)
        print(summary["table"])
        print(f"ranges equal to the paper: {summary['ranges_equal_to_paper']} of {summary['cells_compared_with_paper']}")
        print("multi-stream (continuous rate) faster than the single-stream baseline up to [dB]:",
              summary["multi_stream_faster_than_baseline_up_to_db"])
        print(f"results: {summary['results']}")
        return 0

    if cfg.scenario == "latency_sweep":
        from gensemcom.latency_sweep import run_latency_sweep

        summary = run_latency_sweep(cfg)
        print(summary["table"])
        print("Fig. 4, packet-level (ns-3 semantic link) vs analytic where the model applies:")
        for q, a in summary["fig4_agreement"].items():
            print(f"  {q}: {a['within_tolerance']}/{a['points']} points within "
                  f"{cfg.latency_sweep.agreement_tolerance:.0%}, max |gap| {a['max_abs_gap']:.2%}, "
                  f"median {a['median_abs_gap']:.2%}; beyond the tolerance but inside the 95 % CI: "
                  f"{a['beyond_tolerance_but_within_ci']}")
        if "max_ber_for_quality" in summary:
            print("largest edge-map BER per quality target (measured Phi):", summary["max_ber_for_quality"])
            print("Phi monotonicity violations:", summary["phi_monotonicity_violations"] or "none")
        print(f"results: {summary['results']}")
        return 0

    if cfg.scenario == "rate_quality":
        from gensemcom.rate_quality import run_rate_quality

        summary = run_rate_quality(cfg)
        print(summary["markdown"])
        print(f"results: {summary['results']}")
        return 0

    if cfg.scenario in ("gnl_fig1", "gnl_flow"):
        from gensemcom.gnl import run_gnl

        summary = run_gnl(cfg)
        lam = ", ".join(f"{n} {v:.3f}" for n, v in summary["lambda_per_period"].items())
        print(f"prompt L_p = {summary['prompt_bpp']:.3f} bpp, data L = {summary['data_bpp']:g} bpp, lambda per period: {lam}; "
              f"classical max-flow f'_sd = {summary['f_sd_classical']:.4g}; {summary['generated_units_delivered']} generated units at d")
        for r in summary["routes"]:
            print(f"  {r['kind']:<9} {' -> '.join(r['path']):<24} flow {r['flow']:8.4f}  paced at {r['pace']:8.4f}")
        if summary["ps_gamma"] > 0:
            print(f"pixel swapping: gamma = {summary['ps_gamma']:g} (L_p includes the swapped pixels)")
        made = ", ".join(f"{k} {v['units']} (normalised MSE at d {v['normalised_mse']:.4f})" for k, v in summary["outcomes"].items())
        print(f"{summary['prompting']} prompting; units at the GenAI nodes: {made}")
        print("flow (bpp per period)   analytic   measured   rel. error")
        for row in summary["flows_in_bpp_per_period"]:
            print(f"  {row['quantity']:<20} {row['analytic']:9.4f}  {row['measured']:9.4f}   {row['relative_error']:+.2%}")
        print(f"results: {summary['results']}")
        return 0

    if cfg.scenario == "gnl_sweep":
        from gensemcom.gnl_sweep import run_gnl_sweep

        summary = run_gnl_sweep(cfg)
        print(f"curve fits ({summary['n_images']} images, FID normalised by the PE fit at 0 bpp = "
              f"{summary['fid_max_pe_fit_at_0']:.1f}):")
        print(summary["fits_markdown"])
        imp = summary["implicit"]
        print(f"(implicit: {imp['n_frames']} pan frames, {imp['sequences']} sequences x {imp['frames_per_sequence']}, "
              "FID against the original frames: a different set from the images of the other curves)")
        print(f"\nFig. 4a/4b at c_sg = {cfg.gnl.c_sg} bpp: optimal prompt size (bpp) and G_flow per quality weight w:")
        print(summary["fig4_text"])
        print("\nG_flow vs c_sg (perception):")
        print(summary["capacity_text"])
        print("\nclaims of the paper, checked:")
        print(summary["claims_markdown"])
        print(f"results: {summary['results']}")
        return 0

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("gensemcom").setLevel(logging.INFO)

    if cfg.scenario == "meg":
        from gensemcom.meg import run_meg

        summary = run_meg(cfg)
        print(f"overhead per request (bits measured from the packets) and response time / quality per protocol, "
              f"{summary['ues']} UE(s), {summary['edge_servers']} ES(s), feature channel SNR {summary['snr_db']} dB:")
        print(summary["markdown"])
        print(f"requests: {summary['status_counts']}")
        print(f"results: {summary['results']}")
        return 0

    if cfg.scenario == "meg_sweep":
        from gensemcom.meg import run_meg_sweep

        summary = run_meg_sweep(cfg)
        print(f"MEG sweep, {len(summary['points'])} ns-3 runs: response time (simulated) vs UEs / edge servers, "
              f"quality vs feature-channel SNR:")
        print(summary["markdown"])
        print(f"requests: {summary['status_counts']}")
        print(f"results: {summary['results']}")
        return 0

    from gensemcom.runner import run

    summary = run(cfg)
    print(json.dumps({k: summary[k] for k in ("units", "status_counts", "mean_latency_s",
                                               "mean_psnr_db", "mean_ms_ssim", "mean_lpips", "mean_bpp_total", "lte")},
                     indent=2))
    print(f"results: {summary['results']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
