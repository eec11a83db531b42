"""Pipelined agent requests (agents.pipeline) and batched generation (agents.max_batch):
the same traces as one blocking request at a time, and batched images as unbatched ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli
from helpers.processes import agent_pid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from compare_runs import compare  # noqa: E402


@pytest.mark.slow
def test_batched_generation_matches_unbatched():
    """gsc_ldm's batched denoising loop: each image bit-identical to the one generated alone,
    whatever its batch (batch-invariant kernels, agents/batch_invariance.py)."""
    from gensemcom.agents.agent import SemanticAgent
    from gensemcom.agents.images import load_image

    encoder = SemanticAgent("encoder", {"seed": 1})
    generator = SemanticAgent("generator", {"seed": 1})
    items = []
    for unit, name in enumerate(["barbara", "monarch", "sail"]):
        meta, frames = encoder.encode({"h": 64, "w": 64}, [load_image(name, 64).tobytes()])
        items.append(({"op": "generate", "unit": unit, "streams": meta["streams"], "h": 64, "w": 64,
                       "format": "raw"}, frames))
    items.append(({"op": "generate", "unit": 9, "streams": ["hint"], "h": 64, "w": 64, "format": "raw"},
                  [b"wrong size"]))   # conditioning lost: generated without it, in the same batch
    alone = [generator.generate(h, f) for h, f in items]
    batched = generator.generate_batch(items)
    pair = generator.generate_batch(items[1:3])   # another batch: still the same images
    for a, b in zip(alone + alone[1:3], batched + pair):
        assert a == b


def test_batched_encoding_matches_unbatched(monkeypatch):
    """The encoder's batch: each item's streams as encoded alone, a bad item failing alone;
    and the one-pass batch the networks run on CUDA (forced here on the CPU) gives the same
    prompts and edge maps as one image at a time."""
    from gensemcom.agents.agent import SemanticAgent
    from gensemcom.agents.backends import edges, prompt
    from gensemcom.agents.images import load_image

    encoder = SemanticAgent("encoder", {"seed": 1, "streams": ["prompt", "edge", "hint", "latent"]})
    images = [load_image(name, 64) for name in ("barbara", "monarch", "sail")]
    items = [({"h": 64, "w": 64}, [image.tobytes()]) for image in images]
    items.insert(1, ({"h": 64, "w": 64}, [b"short"]))
    items.append(({"h": 64, "w": 64, "streams": ["edge"]}, [images[0].tobytes()]))
    alone = []
    for header, frames in items:
        try:
            alone.append(encoder.encode(header, frames))
        except ValueError as exc:
            alone.append(exc)
    batched = encoder.encode_batch(items)
    assert isinstance(batched[1], ValueError) and "raw RGB frame" in str(batched[1])
    assert [b for k, b in enumerate(batched) if k != 1] == [a for k, a in enumerate(alone) if k != 1]
    assert batched[4][0]["streams"] == ["edge"] and batched[4][1][0] == batched[0][1][1]

    monkeypatch.setattr(edges, "batches_on", lambda device: True)
    monkeypatch.setattr(prompt, "batches_on", lambda device: True)
    calls = [(image,) for image in images]
    assert encoder.models["prompt"].extract_batch(calls) == [encoder.models["prompt"].extract(i) for i in images]
    one_pass = encoder.models["edges"].detect_batch(calls)
    for image, edge_map in zip(images, one_pass):
        assert (edge_map == encoder.models["edges"].detect(image)).mean() > 0.999


def test_a_failing_item_fails_alone_in_its_batch():
    from gensemcom.agents.agent import SemanticAgent

    generator = SemanticAgent("generator", {"seed": 1, "models": {"generator": {"backend": "hint_upsample"}}})
    hint = bytes(range(192))
    items = [({"unit": 0, "streams": ["hint"], "h": 32, "w": 32, "format": "raw"}, [hint]),
             ({"unit": 1, "streams": ["hint"], "h": 32, "w": 32, "format": "gif"}, [hint]),
             ({"unit": 2, "streams": ["hint"], "h": 32, "w": 32, "format": "raw"}, [hint])]
    results = generator.generate_batch(items)
    assert isinstance(results[1], ValueError) and "gif" in str(results[1])
    assert results[0] == generator.generate(*items[0]) and results[2] == generator.generate(*items[2])


def _run(tmp_path: Path, name: str, **changes) -> Path:
    config = config_variant("gen_semcom.json", tmp_path / f"{name}.json", name="pipe",   # one name: same summary
                            output_dir=str(tmp_path / name), sim={"drain_s": 1.5}, **changes)
    return run_cli(config)[0]


@pytest.mark.ns3
@pytest.mark.e2e
@pytest.mark.slow
def test_pipelined_and_batched_runs_have_the_traces_of_a_blocking_run(tmp_path, capsys):
    """The default scenario with the default generator, blocking (the mode of before) vs
    pipelined (the default) vs pipelined with batches of 4 on two workers per role:
    packets.parquet and units.parquet the same (wall-time columns aside), images included."""
    small = {"images": {"size": 64, "interval_s": 0.02}}   # faster than generate_s: requests queue
    blocking = _run(tmp_path, "blocking", agents={"pipeline": False}, **small)
    pipelined = _run(tmp_path, "pipelined", **small)
    batched = _run(tmp_path, "batched", agents={"max_batch": 4, "batch_wait_ms": 50, "workers": 2}, **small)
    assert compare(blocking, pipelined), capsys.readouterr().out
    assert compare(blocking, batched), capsys.readouterr().out
    assert (pd.read_parquet(batched / "units.parquet")["status"] == "ok").all()
    for role in ("encoder", "generator"):   # both roles batched (the encodings are all sent at once)
        logs = "".join(p.read_text() for p in batched.glob(f"agent-{role}*.log"))
        assert any(f"(batch of {n})" in logs for n in (2, 3, 4)), logs[-2000:]


@pytest.mark.ns3
@pytest.mark.e2e
@pytest.mark.slow
def test_a_killed_generator_worker_fails_only_its_units(tmp_path):
    """agents.workers = 2: worker generator-2 is SIGKILLed once it has a request. Units it never
    got are generated by the other worker; those it held fail (agent_dead, naming it), no other;
    the run finishes."""
    import os
    import signal
    import subprocess
    import time

    from helpers.cli_run import ROOT

    config = config_variant("gen_semcom.json", tmp_path / "workers.json", name="workers",
                            output_dir=str(tmp_path / "results"), sim={"drain_s": 1.5},
                            images={"size": 64, "interval_s": 0.05, "repeat": 2}, agents={"workers": 2})
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        run = subprocess.Popen([sys.executable, "-m", "gensemcom", "run", str(config)], cwd=ROOT,
                               stdout=stdout, stderr=stderr, text=True)
    try:
        killed = False
        while not killed and run.poll() is None:
            logs = list((tmp_path / "results" / "workers").glob("*/agent-generator-2.log"))
            if logs and " INFO generate unit " in logs[0].read_text():
                os.kill(agent_pid(run.pid, lambda argv: any(b"generator-2.ipc" in a for a in argv)), signal.SIGKILL)
                killed = True
            time.sleep(0.01)
        assert run.wait(timeout=300) == 0, (tmp_path / "stderr").read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
    assert killed, "the run ended before worker generator-2 got a request"
    out = Path([x for x in (tmp_path / "stdout").read_text().splitlines() if x.startswith("results: ")][-1][9:])
    units = pd.read_parquet(out / "units.parquet")
    def logged(name: str) -> set[int]:
        return {int(line.rsplit(" ", 1)[1]) for line in (out / f"agent-{name}.log").read_text().splitlines()
                if " INFO generate unit " in line}

    # Worker generator-2 held the units it was generating or that were queued at it (sent, not
    # yet logged); it died with them. Everything the other worker got is generated.
    assert "pinned to cores" in (out / "agent-generator.log").read_text()
    dead = units[units["status"] == "agent_dead"]
    assert len(dead) >= 1 and not set(dead["unit"]) & logged("generator")
    assert dead["error"].str.startswith("agent generator-2 exited (code -9)").all()
    assert (units[units["unit"].isin(logged("generator"))]["status"] == "ok").all()
    assert set(units["status"]) <= {"ok", "agent_dead"}
    assert len(logged("generator")) > len(dead)   # later units went to the live worker
