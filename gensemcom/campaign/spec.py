"""The campaign file: a base config, a grid over any of its keys, seeds, metrics, an engine.

    {
      "name": "lte_distance",
      "base": "configs/gen_semcom.json",            (a path, relative to the repository, or a config inline)
      "set": {"images.names": ["monarch"]},         (fixed changes, dotted keys)
      "grid": {"lte.ues.0.distance_m": [100, 200, 300],
               "app.rate": {"linspace": [1, 5, 3], "format": "{:g}Mbps"}},
      "zip": [{"lte.scheduler": ["pf", "rr"], "lte.link_adaptation.enabled": [true, false]}],
      "seeds": [1, 2, 3],
      "metrics": ["mean_latency_s", "lte.ul.first_tx_bler"],
      "engine": {"kind": "local", "workers": 2}
    }

Every `grid` key is an axis of the product; each `zip` entry is one axis whose keys take their
values together. A key is a dotted path into the resolved base config (list items by index).
Every point's config is built and validated before anything runs: a bad key or value is one
line naming the key.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gensemcom.config import Config, ConfigError, load_config, parse_config
from gensemcom.config.engine import EngineConfig
from gensemcom.core.paths import REPO_ROOT

KEY = r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Span(_Strict):
    """Generated axis values: numpy's linspace / arange (stop excluded), optionally formatted
    (e.g. "{:g}Mbps" for a data rate)."""
    linspace: tuple[float, float, int] | None = Field(None, description="[start, stop, count], both ends included.")
    range: tuple[float, float, float] | None = Field(None, description="[start, stop, step], stop excluded.")
    format: str | None = Field(None, description="Python format string applied to each value, e.g. '{:g}Mbps'.")

    @model_validator(mode="after")
    def _one(self):
        if (self.linspace is None) == (self.range is None):
            raise ValueError("give exactly one of linspace, range")
        if self.linspace is not None and self.linspace[2] < 1:
            raise ValueError("linspace: count must be at least 1")
        if self.range is not None and self.range[2] == 0:
            raise ValueError("range: step must not be 0")
        return self

    def values(self) -> list:
        if self.linspace is not None:
            raw = np.linspace(*self.linspace[:2], int(self.linspace[2]))
        else:
            raw = np.arange(*self.range)
        out = [round(float(v), 12) for v in raw]
        if all(v.is_integer() for v in out):  # 1, 3, 5 rather than 1.0, 3.0, 5.0 (counts, sizes)
            out = [int(v) for v in out]
        return [self.format.format(v) for v in out] if self.format else out


Axis = list[Any] | dict  # a dict is a Span (checked in CampaignSpec._axes)


def _span(key: str, axis):
    """A dict axis as a Span; its problems as one line naming the key."""
    if isinstance(axis, list):
        return axis
    try:
        return Span.model_validate(axis)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        raise ValueError(f"{key}: {where + ': ' if where else ''}{msg}") from None


class CampaignSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Campaign name: its folder is <output_dir>/campaigns/<name>/.")
    base: str | dict = Field(description="The base config: a path (relative to the repository) or a config inline.")
    set: dict[str, Any] = Field(default_factory=dict, description="Fixed changes to the base config, by dotted key.")
    grid: dict[str, Axis] = Field(default_factory=dict, description="Axes of the product: dotted key -> values.")
    zip: list[dict[str, Axis]] = Field(default_factory=list, description="Axes whose keys take their values together.")
    seeds: list[int] = Field(default_factory=list, description="Replicates: one run per seed (default: the base's seed).")
    metrics: list[str] = Field(default_factory=list, description="Dotted keys of summary.json to tabulate (default: "
                                                                "every numeric value but network and wall times).")
    engine: EngineConfig = Field(default_factory=EngineConfig)
    output_dir: str = Field("results", description="Results root, relative to the repository.")

    @field_validator("set", "grid")
    @classmethod
    def _keys(cls, table: dict) -> dict:
        bad = [k for k in table if not re.match(KEY, k)]
        if bad:
            raise ValueError(f"not a dotted key: {bad}")
        return table

    @field_validator("grid")
    @classmethod
    def _grid_spans(cls, grid: dict) -> dict:
        return {k: _span(k, v) for k, v in grid.items()}

    @field_validator("zip")
    @classmethod
    def _zip_spans(cls, groups: list[dict]) -> list[dict]:
        for i, group in enumerate(groups):
            bad = [k for k in group if not re.match(KEY, k)]
            if bad:
                raise ValueError(f"{i}: not a dotted key: {bad}")
        return [{k: _span(f"{i}.{k}", v) for k, v in group.items()} for i, group in enumerate(groups)]

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        if any(s < 1 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and >= 1, got {seeds}")
        return seeds


@dataclass(frozen=True)
class Point:
    """One run of the campaign: its parameters (swept keys -> values, seed included), the
    validated config and an id, a hash of that config (name and output_dir aside)."""
    params: dict
    config: Config

    @property
    def id(self) -> str:
        return config_id(self.config)


def config_id(cfg: Config) -> str:
    data = json.loads(cfg.resolved_json())
    data.pop("name", None)
    data.pop("output_dir", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Campaign:
    spec: CampaignSpec
    source: Path | None          # the campaign file
    folder: Path                 # <output_dir>/campaigns/<name>
    axes: tuple[str, ...]        # the swept keys, in table-column order ("seed" last)
    points: tuple[Point, ...]


def set_key(data: dict, key: str, value, where: str) -> None:
    """data[key] = value for a dotted key; every part but the last must exist."""
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[:depth + 1]), where)
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"campaign error: {where}.{key}: no item {last} (the list has {len(node)})")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value  # a new key is left to the config schema (which names it if unknown)
    else:
        raise ConfigError(f"campaign error: {where}.{key}: {'.'.join(parts[:-1])} is a value, not a section")


def _child(node, part: str, path: str, where: str):
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise ConfigError(f"campaign error: {where}.{path}: no such key in the base config")


def _base(spec: CampaignSpec, source: Path | None) -> dict:
    """The resolved base config as a dict (every default filled in)."""
    if isinstance(spec.base, dict):
        cfg = parse_config(spec.base)
    else:
        path = Path(spec.base)
        if not path.is_absolute():
            path = REPO_ROOT / path
        cfg = load_config(path)
    return json.loads(cfg.resolved_json())


def _axes(spec: CampaignSpec) -> list[tuple[tuple[str, ...], list[tuple]]]:
    """[(keys, [values tuple per step])]: one entry per grid key, one per zip group."""
    axes = []
    for key, axis in spec.grid.items():
        values = axis.values() if isinstance(axis, Span) else list(axis)
        if not values:
            raise ConfigError(f"campaign error: grid.{key}: no values")
        axes.append(((key,), [(v,) for v in values]))
    for i, group in enumerate(spec.zip):
        if not group:
            raise ConfigError(f"campaign error: zip.{i}: no keys")
        columns = {k: (a.values() if isinstance(a, Span) else list(a)) for k, a in group.items()}
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise ConfigError(f"campaign error: zip.{i}: the keys need as many values each, got {lengths}")
        axes.append((tuple(columns), list(zip(*columns.values()))))
    keys = [k for ks, _ in axes for k in ks]
    twice = sorted({k for k in keys if keys.count(k) > 1} | (set(keys) & set(spec.set)))
    if twice:
        raise ConfigError(f"campaign error: {twice[0]}: set or swept more than once")
    if not axes and len(spec.seeds) < 2:
        raise ConfigError("campaign error: grid: empty (sweep at least one key, or give two or more seeds)")
    return axes


def build(spec: CampaignSpec, source: Path | None = None) -> Campaign:
    """Every point of the campaign, each config validated; ConfigError (one line per problem,
    naming the key) before anything runs."""
    base = _base(spec, source)
    for key, value in spec.set.items():
        set_key(base, key, value, "set")
    if "seed" in spec.grid or any("seed" in g for g in spec.zip) or "seed" in spec.set:
        raise ConfigError("campaign error: seed: give replicates as `seeds`, not as a swept key")
    axes = _axes(spec)
    for keys, steps in axes:  # the key paths, once (a missing section is not a problem of a point)
        for key, value in zip(keys, steps[0]):
            set_key(copy.deepcopy(base), key, value, "grid" if key in spec.grid else "zip")
    seeds = spec.seeds or [base["seed"]]
    points, errors = [], {}
    for combo in itertools.product(*(steps for _, steps in axes)):
        params = {}
        for (keys, _), values in zip(axes, combo):
            params.update(zip(keys, values))
        for seed in seeds:
            data = copy.deepcopy(base)
            data["name"], data["output_dir"], data["seed"] = spec.name, spec.output_dir, seed
            try:
                for key, value in params.items():
                    set_key(data, key, value, "grid")
                points.append(Point({**params, "seed": seed}, parse_config(data)))
            except ConfigError as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
                for line in str(exc).splitlines():  # each problem once, with the first point that has it
                    errors.setdefault(line, f"{line} (point {shown})")
    if errors:
        lines = list(errors.values())
        raise ConfigError("\n".join(lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else [])))
    ids = [p.id for p in points]
    if len(set(ids)) != len(ids):
        raise ConfigError("campaign error: grid: two points have the same config (a swept key that changes nothing?)")
    root = Path(spec.output_dir)
    root = root if root.is_absolute() else REPO_ROOT / root
    return Campaign(spec, source, root / "campaigns" / spec.name,
                    tuple(k for ks, _ in axes for k in ks) + ("seed",), tuple(points))


def _format(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        named = re.match(r"^([\w.]+): ", msg) if err["type"] == "value_error" else None
        if named:  # "key: ..." from a check of a table's entry: the key below that table
            loc, msg = f"{loc}.{named.group(1)}", msg[named.end():]
        lines.append(f"campaign error: {loc}: {msg}")
    return "\n".join(lines)


def parse_campaign(data: dict, source: Path | None = None) -> Campaign:
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(exc)) from None
    return build(spec, source)


def load_campaign(path: str | Path) -> Campaign:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"campaign error: {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"campaign error: {path}: top level must be a JSON object")
    return parse_campaign(data, path)


def is_campaign(data) -> bool:
    """A campaign file, not a run config: it has a base config."""
    return isinstance(data, dict) and "base" in data
