"""Scenario configuration: a JSON file validated against this schema before ns-3 starts.

Each section is a model in this package (units, networks, latency_aware, generative_network,
rate_quality, edge_generation); every key is documented by its Field description; `python -m gensemcom config-doc` prints the
reference that configs/README.md holds. Unknown keys are errors (a typo must not silently
fall back to a default).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from gensemcom.constants import MEG_MULTI_ES
from gensemcom.core import registry

from .base import ConfigError, Section, shown
from .edge_generation import MegComputeConfig, MegConfig, MegSweepConfig
from .generative_network import GNL_CODEC_RATES, GnlConfig, GnlEdge, GnlSweepConfig
from .latency_aware import LatencyAwareConfig, LatencySweepConfig, PacketRun, PhiConfig
from .nr import NrConfig, NrFadingConfig
from .networks import PATHLOSS_ATTRIBUTES, BackhaulConfig, FadingConfig, LteConfig, PropagationConfig, SemanticLinkConfig, UeConfig
from .rate_quality import BackendSpec, RateQualityConfig
from .units import AgentsConfig, AppConfig, BitErrorsConfig, ComputeConfig, ImagesConfig, ModelsConfig, SimConfig

__all__ = ["ConfigError", "Config", "parse_config", "load_config", "MegComputeConfig", "MegConfig", "MegSweepConfig",
           "GNL_CODEC_RATES", "GnlConfig", "GnlEdge", "GnlSweepConfig", "LatencyAwareConfig", "LatencySweepConfig",
           "PacketRun", "PhiConfig", "PATHLOSS_ATTRIBUTES", "BackhaulConfig", "FadingConfig", "LteConfig",
           "PropagationConfig", "SemanticLinkConfig", "NrConfig", "NrFadingConfig", "UeConfig", "BackendSpec", "RateQualityConfig", "AgentsConfig", "AppConfig",
           "BitErrorsConfig", "ComputeConfig", "ImagesConfig", "ModelsConfig", "SimConfig"]

_KEY_PREFIX = re.compile(r"^([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*): ")   # rate_quality.codecs.0.rate, attributes.Exponent
# Configs are a few kB; anything near this is not one (and is not read into memory).
MAX_CONFIG_BYTES = 16 * 1024 * 1024

class Config(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Run name: results go to <output_dir>/<name>/<timestamp>/.")
    seed: int = Field(1, ge=1, description="Seed of ns-3's RNG (run number) and of the agents and traces.")
    scenario: str = Field("lte_edge", description="The scenario to run: one of the table above (`python -m gensemcom "
                                                  "scenarios`), which also says which sections each reads; any other "
                                                  "section is an error.")
    output_dir: str = Field("results", description="Results root, relative to the repository.")
    channel: str = Field(
        "lte", description="Channel of scenario lte_edge: lte (UEs, eNB, EPC, backhaul, edge server; section lte), "
                           "nr (a 5G NR cell: UEs, gNB, backhaul, edge server; section nr) or semantic_link (the "
                           "latency-aware paper's link, the receiver generates; section semantic_link).")
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    lte: LteConfig = Field(default_factory=LteConfig)
    nr: NrConfig = Field(default_factory=NrConfig)
    backhaul: BackhaulConfig = Field(default_factory=BackhaulConfig)
    app: AppConfig = Field(default_factory=AppConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    bit_errors: BitErrorsConfig = Field(default_factory=BitErrorsConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    latency_aware: LatencyAwareConfig = Field(default_factory=LatencyAwareConfig)
    latency_sweep: LatencySweepConfig = Field(default_factory=LatencySweepConfig)
    semantic_link: SemanticLinkConfig = Field(default_factory=SemanticLinkConfig)
    gnl: GnlConfig = Field(default_factory=GnlConfig)
    gnl_sweep: GnlSweepConfig = Field(default_factory=GnlSweepConfig)
    rate_quality: RateQualityConfig = Field(default_factory=RateQualityConfig)
    meg: MegConfig = Field(default_factory=MegConfig)

    def resolved_json(self) -> str:
        """This config with every default filled in, limited to the sections its scenario reads
        (so that it is itself a valid config: the same run again)."""
        keys = registry.COMMON_KEYS + registry.SCENARIOS[self.scenario].sections
        return self.model_dump_json(indent=2, include=set(keys))

    @field_validator("scenario", "channel")
    @classmethod
    def _registered(cls, name: str, info) -> str:
        table = registry.SCENARIOS if info.field_name == "scenario" else registry.CHANNELS
        if name not in table:
            raise ValueError(f"unknown {info.field_name}; known: {sorted(table)}")
        return name

    @model_validator(mode="after")
    def _sections_of_the_scenario(self):
        """A section the scenario does not read is a mistake (it would silently do nothing)."""
        entry = registry.SCENARIOS[self.scenario]
        unused = sorted(k for k in self.model_fields_set if k not in registry.COMMON_KEYS + entry.sections)
        if unused:
            raise ValueError("\n".join(f"{k}: scenario {self.scenario} does not use this section" for k in unused))
        return self

    @field_validator("images")
    @classmethod
    def _known_images(cls, images: ImagesConfig) -> ImagesConfig:
        from gensemcom.agents.images import names as catalogue_names

        known = set(catalogue_names("train")) | set(catalogue_names("heldout"))
        unknown = [n for n in images.names if n not in known]
        if unknown:
            raise ValueError(f"unknown image(s) {unknown}; known: {sorted(known)}")
        return images

    @model_validator(mode="after")
    def _semantic_link(self):
        if self.channel != "semantic_link":
            return self
        if self.scenario != "lte_edge":
            raise ValueError(f"channel: semantic_link is a channel of scenario lte_edge, not {self.scenario}")
        streams = self.app.streams
        if streams[0] != "prompt":
            raise ValueError(f"app.streams: on the semantic link the first stream is the ARQ-protected prompt, got {streams}")
        if self.semantic_link.allocation == "table2" and len(streams) != 2:
            raise ValueError(f"semantic_link.allocation: table2 is for the prompt + one conditioning stream, got {streams}")
        if self.latency_aware.beta * self.semantic_link.target_ber >= 1:
            raise ValueError(f"semantic_link.target_ber: beta x BER must be < 1 (Eq. 4; latency_aware.beta = "
                             f"{self.latency_aware.beta:g}), got {self.semantic_link.target_ber:g}")
        return self

    @model_validator(mode="after")
    def _meg(self):
        if self.scenario not in ("meg", "meg_sweep"):
            return self
        m, size = self.meg, self.images.size
        multi = [p for p in m.protocols if p in MEG_MULTI_ES]
        if self.scenario == "meg" and multi and m.num_es < 2:
            raise ValueError(f"meg.num_es: multi-ES protocols {multi} need at least 2 edge servers, got {m.num_es}")
        if self.scenario == "meg_sweep":
            s = m.sweep
            for key, protocols, n in (("ue_num_es", s.ue_protocols, s.ue_num_es), ("snr_num_es", s.snr_protocols, s.snr_num_es)):
                multi = [p for p in protocols if p in MEG_MULTI_ES]
                if multi and n < 2:
                    raise ValueError(f"meg.sweep.{key}: multi-ES protocols {multi} need at least 2 edge servers, got {n}")
            if s.es_counts and min(s.es_counts) < 2:
                raise ValueError(f"meg.sweep.es_counts: the multi-ES protocols need at least 2 edge servers, got {s.es_counts}")
            if max(s.es_counts + [s.ue_num_es, s.snr_num_es]) > 8:
                raise ValueError("meg.sweep: at most 8 edge servers (meg.num_es's limit)")
            if not any((s.ue_counts and s.ue_protocols, s.es_counts and s.es_protocols, s.snr_db and s.snr_protocols)):
                raise ValueError("meg.sweep: every series is empty (no values or no protocols)")
        if size % 16:
            raise ValueError(f"images.size: scenario meg needs a multiple of 16 (VAE factor x UNet strip rows), got {size}")
        if m.sketch_side > size or size % m.sketch_side:
            raise ValueError(f"meg.sketch_side: must divide images.size {size}, got {m.sketch_side}")
        return self

def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        got = err.get("input")
        quoted = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(got, dict) else f" (got {shown(got)})"
        # A cross-section check names its key(s) itself, one line each.
        for msg in err["msg"].removeprefix("Value error, ").split("\n"):
            where = loc
            named = _KEY_PREFIX.match(msg) if err["type"] == "value_error" else None
            if named:  # "key: ..." from a section's own check: the key below that section
                where = named.group(1) if loc == "<root>" else f"{loc}.{named.group(1)}"
                msg = msg[named.end():]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"config error: {where}: {msg}{'' if named or ', got ' in msg else quoted}")
    return "\n".join(lines)

def parse_config(data: dict) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None

def _read_json(text: str):
    """JSON with every key given twice in one object found (json.loads keeps the last value
    silently, as if the first were a typo); raises ConfigError naming them."""
    twice: dict[int, tuple[dict, list[str]]] = {}   # id -> (the object, kept alive: ids stay unique; its keys given twice)

    def pairs_hook(pairs):
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            twice[id(obj)] = obj, sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        return obj

    data = json.loads(text, object_pairs_hook=pairs_hook)
    lines, todo = [], [("", data)]
    while twice and todo:   # a loop, not recursion: the nesting may be deep
        where, node = todo.pop()
        if isinstance(node, dict):
            lines += [f"config error: {where}{k}: key given twice in one object" for k in twice.get(id(node), ({}, []))[1]]
            todo += [(f"{where}{k}.", v) for k, v in node.items()]
        elif isinstance(node, list):
            todo += [(f"{where}{i}.", v) for i, v in enumerate(node)]
    if lines:
        raise ConfigError("\n".join(sorted(lines)))
    return data


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise ConfigError(f"config error: {path} is not a regular file")   # a FIFO or a device: no end to read
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config error: {path}: {path.stat().st_size} bytes, too large for a config")
        # utf-8-sig: a byte order mark (some editors write one) is not part of the JSON.
        data = _read_json(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config error: file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config error: {path} is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError(f"config error: {path}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config error: {path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config error: {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"config error: {path}: JSON nested too deeply") from None
    except OSError as exc:   # any other reason the file cannot be read (a name too long, an I/O error)
        raise ConfigError(f"config error: {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {path}: top level must be a JSON object")
    return parse_config(data)
