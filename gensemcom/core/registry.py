"""Scenarios and channels by name.

A scenario is one module with

    run(cfg, out: Path) -> dict     the run; writes its files into `out` (which already holds
                                    config.json and run.log) and returns its summary
    report(summary: dict) -> str    what the command line prints of that summary

and one `register` line below naming the module (imported only when the scenario runs, so that
`validate` stays fast and no scenario imports another) and the config sections it reads: a
config that sets any other section is an error naming it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# Keys of every config, whatever the scenario.
COMMON_KEYS = ("name", "seed", "scenario", "output_dir")


@dataclass(frozen=True)
class ScenarioEntry:
    name: str
    module: str                 # dotted module path
    sections: tuple[str, ...]   # config sections the scenario reads
    about: str                  # one line for the config reference

    def load(self) -> ModuleType:
        module = importlib.import_module(self.module)
        missing = [f for f in ("run", "report") if not callable(getattr(module, f, None))]
        if missing:
            raise TypeError(f"scenario {self.name}: module {self.module} has no {' / '.join(missing)}()")
        return module


SCENARIOS: dict[str, ScenarioEntry] = {}


def register(name: str, module: str, sections: tuple[str, ...], about: str) -> ScenarioEntry:
    """Add (or replace) a scenario; returns its entry."""
    entry = ScenarioEntry(name, module, tuple(sections), about)
    SCENARIOS[name] = entry
    return entry


def lookup(name: str) -> ScenarioEntry:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}") from None


_UNITS = ("images", "app", "compute", "agents", "models", "bit_errors", "sim")
register("lte_edge", "gensemcom.scenarios.lte_edge",
         ("channel", "lte", "nr", "backhaul", "semantic_link", "latency_aware") + _UNITS,
         "source UEs -> channel -> edge server (GenAI) -> sink, packet by packet; the channel is "
         "`channel`: lte (UEs, eNB, EPC, backhaul; section lte), nr (a 5G NR cell, backhaul; section nr) "
         "or semantic_link (the latency-aware paper's link, the receiver generates; section semantic_link)")
register("table2", "gensemcom.scenarios.latency_aware.table2", ("latency_aware",),
         "the latency-aware scheme's Table II from the analytic model (no ns-3)")
register("latency_sweep", "gensemcom.scenarios.latency_aware.sweep",
         ("latency_aware", "latency_sweep", "images", "models"),
         "Table II, Phi(BER) and Fig. 4 with the packet-level semantic link (section latency_sweep)")
register("gnl_fig1", "gensemcom.scenarios.gnl.flow", ("gnl", "images", "app", "compute", "agents", "models", "sim"),
         "generative network layer, Fig. 1 (s - r - d, s - g - d) over point-to-point links")
register("gnl_flow", "gensemcom.scenarios.gnl.flow", ("gnl", "images", "app", "compute", "agents", "models", "sim"),
         "the generative network layer on any topology of section gnl (gnl.edges: relays, several GenAI nodes)")
register("gnl_sweep", "gensemcom.scenarios.gnl.sweep", ("gnl", "gnl_sweep", "images", "models"),
         "generative network layer curves (PE, PS, hybrid, implicit, JPEG), fits and prompt-size "
         "optimisation, Figs. 2-4 (section gnl_sweep; no ns-3)")
register("rate_quality", "gensemcom.scenarios.rate_quality", ("rate_quality", "images", "models", "agents"),
         "bpp vs PSNR/MS-SSIM/LPIPS/FID/KID/CLIP of codecs, generators and JPEG (no ns-3)")
_MEG = ("meg", "images", "channel", "lte", "nr", "backhaul", "app", "agents", "models")
register("meg", "gensemcom.scenarios.meg.protocols", _MEG,
         "mobile edge generation protocols between UEs and edge servers over LTE or NR (`channel`; section meg)")
register("meg_sweep", "gensemcom.scenarios.meg.sweep", _MEG,
         "meg's response time vs UEs / ESs and quality vs SNR (section meg.sweep)")


# -- channels (gensemcom.channels says what a channel module provides) -------------------------

CHANNELS = {
    "lte": "gensemcom.channels.lte",
    "nr": "gensemcom.channels.nr",
    "semantic_link": "gensemcom.channels.semantic_link",
}
CHANNEL_INTERFACE = ("build", "ready", "finish", "phy_summary")


def load_channel(name: str) -> ModuleType:
    try:
        module = importlib.import_module(CHANNELS[name])
    except KeyError:
        raise KeyError(f"unknown channel {name!r}; known: {sorted(CHANNELS)}") from None
    missing = [f for f in CHANNEL_INTERFACE if not callable(getattr(module, f, None))]
    if missing:
        raise TypeError(f"channel {name}: module {CHANNELS[name]} has no {', '.join(missing)}")
    return module


def run(cfg, scenario: ModuleType | None = None, out: Path | None = None) -> dict:
    """Run the config's scenario: a results folder (config.json, run.log; a new one under
    output_dir unless `out`, an empty folder, is given), then the scenario module's
    run(cfg, out); returns its summary."""
    from gensemcom.core import run_folder

    scenario = scenario or lookup(cfg.scenario).load()
    out = run_folder.create(cfg, out)
    with run_folder.run_log(out):
        return scenario.run(cfg, out)
