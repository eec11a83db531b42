"""Scenario `rate_quality`: the rate-quality table of the shipped models next to JPEG."""

from __future__ import annotations

import json

from gensemcom.analysis import rate_quality as rq
from gensemcom.config import Config
from gensemcom.runner import results_dir


def run_rate_quality(cfg: Config) -> dict:
    out = results_dir(cfg)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    rows, table, info = rq.measure(cfg)
    rows.to_parquet(out / "rate_quality_images.parquet", index=False)
    table.to_parquet(out / "rate_quality.parquet", index=False)
    rq.plot(table, out / "rate_quality.png")
    md = rq.markdown(table)
    (out / "rate_quality.md").write_text(md + "\n")
    summary = {"name": cfg.name, "results": str(out), **info,
               "table": table.astype(object).where(table.notna(), None).to_dict("records")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return {**summary, "markdown": md}
