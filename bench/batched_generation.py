"""Batched generation with gsc_ldm: speed of batches, and whether a batched image is the
unbatched one bit for bit, with batch-invariant kernels (the default, agents/batch_invariance.py)
and without them (oneDNN convolutions, plain Linear layers).

    .venv/bin/python bench/batched_generation.py [--size 128] [--batch 8] [--threads 1]

Generates `batch` held-out images one at a time, then as one batch, in one
process, both ways; prints the wall times and their ratios and how many batched images equal
their unbatched selves. Then the encoder's networks (HED, EfficientNet-Lite0) on the same
images: one at a time against one forward pass, on the CPU's default kernels (why the encoder
batches on CUDA only: backends.base.batches_on).
"""
from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np


def _jobs(size: int, count: int) -> list[tuple]:
    from gensemcom.agents.agent import SemanticAgent
    from gensemcom.agents.images import load_image, names
    from gensemcom.agents.semantics import decode_edges

    encoder = SemanticAgent("encoder", {"seed": 1})
    jobs, held_out = [], names("heldout")
    for k in range(count):
        image = load_image(held_out[k % len(held_out)], size)
        meta, frames = encoder.encode({"h": size, "w": size}, [image.tobytes()])
        got = dict(zip(meta["streams"], frames))
        hint = np.frombuffer(got["hint"], np.uint8).reshape(8, 8, 3)
        jobs.append((meta["prompt"], decode_edges(got["edge"]), hint, 1000 + k, size))
    return jobs


@contextlib.contextmanager
def _without_invariance(model):
    """oneDNN convolutions and plain Linear layers: how gsc_ldm ran before batch invariance."""
    from torch import nn

    from gensemcom.agents.backends import split
    from gensemcom.agents.batch_invariance import RowPaddedLinear

    padded = [m for m in model.unet.modules() if type(m) is RowPaddedLinear]
    kernels = split.batch_invariant_kernels
    for m in padded:
        m.__class__ = nn.Linear
    split.batch_invariant_kernels = contextlib.nullcontext
    try:
        yield
    finally:
        split.batch_invariant_kernels = kernels
        for m in padded:
            m.__class__ = RowPaddedLinear


def _measure(model, jobs) -> dict:
    start = time.perf_counter()
    alone = [model.generate(*job) for job in jobs]
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    batched = model.generate_batch(jobs)
    batch = time.perf_counter() - start
    return {"one_by_one_s": one_by_one, "batch_s": batch,
            "identical": sum(np.array_equal(a, b) for a, b in zip(alone, batched))}


def _encoder_networks(size: int, count: int) -> None:
    import torch

    from gensemcom.agents.backends import hed
    from gensemcom.agents.backends.edges import HEDEdges
    from gensemcom.agents.backends.prompt import EfficientNetPrompt
    from gensemcom.agents.images import load_image, names

    held_out = names("heldout")
    images = [load_image(held_out[k % len(held_out)], size) for k in range(count)]
    edges, prompt = HEDEdges(device="cpu"), EfficientNetPrompt(device="cpu")
    nets = {"HED": (edges.net, torch.cat([hed.preprocess(i) for i in images])),
            "EfficientNet-Lite0": (prompt.net, torch.cat([prompt._input(i) for i in images]))}
    print(f"encoder networks, {count} images of {size} px, forward passes only")
    print(f"{'network':20s} {'one by one s':>13s} {'batch s':>8s} {'batch speed-up':>15s}")
    with torch.inference_mode():
        for name, (net, x) in nets.items():
            net(x[:1]), net(x)   # warm-up
            start = time.perf_counter()
            for k in range(count):
                net(x[k:k + 1])
            one_by_one = time.perf_counter() - start
            start = time.perf_counter()
            net(x)
            batch = time.perf_counter() - start
            print(f"{name:20s} {one_by_one:13.2f} {batch:8.2f} {one_by_one / batch:14.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    from gensemcom.agents.backends.split import GscLdmSplit

    torch.set_num_threads(args.threads)
    jobs = _jobs(args.size, args.batch)
    model = GscLdmSplit()
    model.generate(*jobs[0])   # warm-up: first-call allocations, alone and batched
    model.generate_batch(jobs)
    rows = {"batch-invariant (default)": _measure(model, jobs)}
    with _without_invariance(model):
        rows["oneDNN, plain Linear"] = _measure(model, jobs)
    ref = rows["batch-invariant (default)"]["one_by_one_s"]
    print(f"gsc_ldm, {args.batch} images of {args.size} px, {args.threads} torch thread(s)")
    print(f"{'kernels':28s} {'one by one s':>13s} {'batch s':>8s} {'batch speed-up':>15s} "
          f"{'vs default 1-by-1':>18s} {'batched == alone':>17s}")
    for name, r in rows.items():
        print(f"{name:28s} {r['one_by_one_s']:13.2f} {r['batch_s']:8.2f} {r['one_by_one_s'] / r['batch_s']:14.2f}x "
              f"{ref / r['batch_s']:17.2f}x {r['identical']:>11d} of {args.batch}")
    _encoder_networks(args.size, args.batch)


if __name__ == "__main__":
    main()
