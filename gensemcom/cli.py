"""Command line: ``python -m gensemcom {run,campaign,validate,scenarios,config-doc} ...``.

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


def _is_campaign_file(path: str) -> bool:
    """A campaign file (it names a base config) rather than a run config."""
    from gensemcom.campaign import is_campaign

    try:
        return is_campaign(json.loads(open(path, encoding="utf-8").read()))
    except (OSError, ValueError, RecursionError):
        return False  # load_config says what is wrong with it


def _campaign(path: str, allow_mixed_commits: bool, dry_run: bool) -> int:
    from gensemcom.campaign import load_campaign, report, run_campaign

    try:
        campaign = load_campaign(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if dry_run:
        print(f"{len(campaign.points)} points -> {campaign.folder}")
        for p in campaign.points:
            print(f"{p.id}  {json.dumps(p.params)}")
        return 0
    run_folder.configure_logging()
    try:
        result = run_campaign(campaign, allow_mixed_commits)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report(result))
    return 1 if result["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gensemcom", description="Generative semantic communication co-simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run a scenario config end to end, or a campaign file")
    p_run.add_argument("config")
    p_camp = sub.add_parser("campaign", help="run a campaign: a grid of configs x seeds, resumable (configs/campaigns/)")
    p_camp.add_argument("file")
    p_camp.add_argument("--allow-mixed-commits", action="store_true",
                        help="keep finished points of another code version in the campaign's tables")
    p_camp.add_argument("--dry-run", action="store_true", help="validate every point and list them; run nothing")
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
    if args.cmd == "campaign" or (args.cmd == "run" and _is_campaign_file(args.config)):
        return _campaign(args.file if args.cmd == "campaign" else args.config,
                         getattr(args, "allow_mixed_commits", False), getattr(args, "dry_run", False))
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
