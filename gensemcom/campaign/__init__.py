"""Campaigns: a parameter grid x seeds of ordinary runs, in parallel, resumable, with
provenance and one tidy table (see spec.py for the file, store.py for the folder).

    ./run.sh configs/campaigns/NAME.json              (or python -m gensemcom campaign FILE)

Each point is identified by a hash of its resolved config; a rerun runs only the points that
are missing or failed. The driver keeps no state of its own: everything is in the folder.
"""

from __future__ import annotations

import logging
import time

from tqdm import tqdm

from gensemcom.campaign import provenance
from gensemcom.campaign.engines import build_engine, worker_count
from gensemcom.campaign.spec import Campaign, is_campaign, load_campaign, parse_campaign
from gensemcom.campaign.store import Store, write_json_atomic
from gensemcom.campaign.tables import build_tables
from gensemcom.campaign.tasks import record_failure
from gensemcom.config import ConfigError

__all__ = ["Campaign", "is_campaign", "load_campaign", "parse_campaign", "report", "run_campaign"]
log = logging.getLogger("gensemcom.campaign")


def _check_commits(store: Store, campaign: Campaign, commit: str | None, allow_mixed: bool) -> None:
    ours = {p.id for p in campaign.points}
    other = sorted({info["provenance"].get("commit") or "?" for pid, info in store.finished().items()
                    if pid in ours and info["provenance"].get("commit") != commit})
    if other and not allow_mixed:
        raise ConfigError(f"campaign error: {store.folder} has points of commit(s) {', '.join(c[:10] for c in other)}, "
                          f"this checkout is {(commit or '?')[:10]}: pass --allow-mixed-commits to keep them, or delete "
                          f"the folder")


def run_campaign(campaign: Campaign, allow_mixed_commits: bool = False, progress: bool = True) -> dict:
    """Run the missing or failed points; returns {"folder", "n_points", "ran", "failed": {id: error},
    "tables": {"points", "units", "aggregate"}}."""
    store = Store(campaign.folder)
    with store.lock():
        snapshot = provenance.snapshot()
        _check_commits(store, campaign, snapshot["commit"], allow_mixed_commits)
        if store.clear_in_flight():
            log.info("removed the folders of points that were in flight when the last driver stopped")
        write_json_atomic(store.folder / "campaign.json", {
            "spec": campaign.spec.model_dump(), "source": str(campaign.source) if campaign.source else None,
            "axes": list(campaign.axes), "points": len(campaign.points), "commit": snapshot["commit"]})
        todo = [p for p in campaign.points if not store.is_done(p.id)]
        log.info("campaign %s: %d points, %d to run (%d workers, engine %s) -> %s", campaign.spec.name,
                 len(campaign.points), len(todo), worker_count(campaign.spec.engine.workers, len(todo)) if todo else 0,
                 campaign.spec.engine.kind, store.folder)
        failed: dict[str, str] = {}
        if todo:
            tasks = [{"id": p.id, "params": p.params, "config": p.config.resolved_json(), "folder": str(store.folder),
                      "provenance": snapshot} for p in todo]
            by_id = {t["id"]: t for t in tasks}
            bar = tqdm(total=len(tasks), unit="point", desc=f"campaign {campaign.spec.name}", disable=not progress)
            t0 = time.perf_counter()

            def on_result(result: dict) -> None:
                if not result["ok"]:
                    failed[result["id"]] = result["error"]
                    record_failure(store, result, by_id[result["id"]]["params"])
                bar.update(1)
                bar.set_postfix(failed=len(failed))

            try:
                build_engine(campaign.spec.engine, store.logs).run(tasks, on_result)
            finally:
                bar.close()
            log.info("ran %d points in %.1f s", len(tasks), time.perf_counter() - t0)
        tables = build_tables(campaign, store)
    return {"folder": store.folder, "n_points": len(campaign.points), "ran": len(todo), "failed": failed,
            "tables": tables}


def report(result: dict) -> str:
    """What the command line prints: counts, failures (one line each), where the tables are."""
    lines = [f"campaign: {result['n_points']} points, {result['ran']} run now, {len(result['failed'])} failed"]
    lines += [f"  failed {pid}: {err.splitlines()[0]}" for pid, err in result["failed"].items()]
    lines.append(f"tables: {result['folder']}/points.parquet, units.parquet, aggregate.parquet")
    return "\n".join(lines)
