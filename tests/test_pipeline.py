"""Pipelined agent requests (agents.pipeline) and batched generation (agents.max_batch):
the same traces as one blocking request at a time, and batched images as unbatched ones."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from compare_runs import compare  # noqa: E402


@pytest.mark.slow
def test_batched_generation_matches_unbatched():
    """gsc_ldm's batched denoising loop: each image as generated alone (identical, or at
    least 50 dB PSNR: batched convolutions may round differently), whatever its batch."""
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
        assert a[0] == b[0]
        x = np.frombuffer(a[1][0], np.uint8).astype(float)
        y = np.frombuffer(b[1][0], np.uint8).astype(float)
        mse = float(np.mean((x - y) ** 2))
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 50


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
    pipelined (the default) vs pipelined with batches of 4: packets.parquet and units.parquet
    the same (wall-time columns aside), images included."""
    small = {"images": {"size": 64, "interval_s": 0.1}}
    blocking = _run(tmp_path, "blocking", agents={"pipeline": False}, **small)
    pipelined = _run(tmp_path, "pipelined", **small)
    batched = _run(tmp_path, "batched", agents={"max_batch": 4, "batch_wait_ms": 50}, **small)
    assert compare(blocking, pipelined), capsys.readouterr().out
    units = pd.read_parquet(batched / "units.parquet")
    assert (units["status"] == "ok").all()
    log = (batched / "agent-generator.log").read_text()
    assert "(batch of 2)" in log or "(batch of 3)" in log or "(batch of 4)" in log, log[-2000:]
    # Every generated image as the unbatched one, up to a rounding (see the test above): the
    # same quality, and the same packets wherever the PNG has the same size.
    reference = pd.read_parquet(blocking / "units.parquet")
    assert (np.abs(units["psnr_db"] - reference["psnr_db"]) < 0.01).all()
    if (units["generated_bytes"] == reference["generated_bytes"]).all():
        pd.testing.assert_frame_equal(pd.read_parquet(blocking / "packets.parquet"),
                                      pd.read_parquet(batched / "packets.parquet"))


def _worker_pid(parent: int, endpoint_part: bytes) -> int | None:
    """The pid of the agent started by `parent` whose endpoint contains endpoint_part."""
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"gensemcom.agents.agent" in argv and any(endpoint_part in a for a in argv):
            return int(entry.name)
    return None


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
                os.kill(_worker_pid(run.pid, b"generator-2.ipc"), signal.SIGKILL)
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
