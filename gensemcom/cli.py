"""Command line: ``python -m gensemcom {run,validate,scenarios,config-doc} ...``.

Every scenario runs the same way: the config is validated, logging is set up, the scenario's
module is looked up in the registry (gensemcom.core.registry), it runs in a new results folder,
and its `report` says what to print.
"""

from __future__ import annotations

import argparse
import json
import sys

from gensemcom.config import Config, ConfigError, load_config
from gensemcom.core import registry, run_folder


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


def scenario_table() -> list[str]:
    """One Markdown row per registered scenario: name, config sections, what it does."""
    return [f"| `{e.name}` | {', '.join(f'`{s}`' for s in e.sections)} | {e.about} |"
            for e in registry.SCENARIOS.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gensemcom", description="Generative semantic communication co-simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run a scenario config end to end")
    p_run.add_argument("config")
    p_val = sub.add_parser("validate", help="validate a config and print it resolved")
    p_val.add_argument("config")
    sub.add_parser("scenarios", help="list the registered scenarios and the config sections each reads")
    sub.add_parser("config-doc", help="print the config key reference (Markdown)")
    p_rq = sub.add_parser("rate-quality", help="same as `run` for a config of scenario rate_quality")
    p_rq.add_argument("--config", default="configs/rate_quality.json")
    args = parser.parse_args(argv)

    if args.cmd == "config-doc":
        print("## Scenarios\n\n| scenario | config sections | what it does |\n|---|---|---|")
        print("\n".join(scenario_table()))
        print("\n## Keys\n\n| key | default | meaning |\n|---|---|---|")
        print("\n".join(_config_doc()))
        return 0
    if args.cmd == "scenarios":
        print("| scenario | config sections | what it does |\n|---|---|---|")
        print("\n".join(scenario_table()))
        return 0
    try:
        cfg = load_config(args.config)
        if args.cmd == "rate-quality" and cfg.scenario != "rate_quality":
            raise ConfigError(f"config error: {args.config}: scenario must be 'rate_quality' for rate-quality")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.cmd == "validate":
        print(cfg.resolved_json())
        return 0

    run_folder.configure_logging()
    scenario = registry.lookup(cfg.scenario).load()
    summary = registry.run(cfg, scenario)
    print(scenario.report(summary))
    print(f"results: {summary['results']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
