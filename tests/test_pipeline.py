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
