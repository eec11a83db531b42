"""Command line: ``python -m gensemcom {run,validate,config-doc} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from gensemcom.config import Config, ConfigError, load_config


def _config_doc(model=Config, prefix: str = "") -> list[str]:
    """One Markdown table row per config key, from the schema's Field descriptions."""
    lines = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        sub = f.annotation if isinstance(f.annotation, type) else None
        if sub is not None and issubclass(sub, Config.__mro__[1]):
            lines += _config_doc(sub, key + ".")
            continue
        default = f.get_default(call_default_factory=True)
        if hasattr(default, "model_dump"):
            default = default.model_dump()
        if isinstance(default, list):
            default = [d.model_dump() if hasattr(d, "model_dump") else d for d in default]
        lines.append(f"| `{key}` | `{json.dumps(default)}` | {f.description or ''} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gensemcom", description="Generative semantic communication co-simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run a scenario config end to end")
    p_run.add_argument("config")
    p_val = sub.add_parser("validate", help="validate a config and print it resolved")
    p_val.add_argument("config")
    sub.add_parser("config-doc", help="print the config key reference (Markdown)")
    args = parser.parse_args(argv)

    if args.cmd == "config-doc":
        print("| key | default | meaning |\n|---|---|---|")
        print("\n".join(_config_doc()))
        return 0
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.cmd == "validate":
        print(cfg.model_dump_json(indent=2))
        return 0

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("gensemcom").setLevel(logging.INFO)
    from gensemcom.runner import run

    summary = run(cfg)
    print(json.dumps({k: summary[k] for k in ("units", "status_counts", "mean_latency_s",
                                               "mean_psnr_db", "mean_ms_ssim", "mean_bpp_total", "lte")},
                     indent=2))
    print(f"results: {summary['results']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
