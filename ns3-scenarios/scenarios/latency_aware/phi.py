"""Phi(BER) of the latency-aware paper (its Fig. 2), measured with the configured models: for
each image, BER and error seed, random bit errors are injected into the edge-map bitstream, the
receiver decodes what it got and the generator draws the image from the prompt and the
received edge map (prompt-only when the stream no longer decodes, as the GenAI agent does).
The curves, their summary and plot are analysis.phi_ber."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis.clip_score import semantic_similarity
from gensemcom.analysis.metrics import ms_ssim
from gensemcom.analysis.phi_ber import DEFAULT_BERS, inject_bit_errors


@dataclass
class PhiSetup:
    images: np.ndarray            # (N, S, S, 3) uint8 originals
    prompts: list[str]            # prompt of each original
    edges: list[np.ndarray]       # edge map of each original (bool S x S)


def _quality(generated, original, prompt, prompt_model, clip_model, text_encoder):
    generated_prompt = None if clip_model else prompt_model.extract(generated)
    sem = semantic_similarity(generated, original, prompt, generated_prompt, clip_model, text_encoder)
    return {"semantic_metric": sem["metric"], "semantic": sem["normalised"],
            "ms_ssim": ms_ssim(generated, original)}


def measure(setup: PhiSetup, generator, prompt_model, bers=DEFAULT_BERS, seeds=(0, 1),
            formats=("zlib", "raw"), clip_model: str | None = None, text_encoder=None) -> pd.DataFrame:
    """One row per (image, condition, format, BER, seed) with the quality of the generation.
    text_encoder: a role-"text" backend for the CLIP substitute (MiniLM when None)."""
    from gensemcom.agents.backends import build
    from gensemcom.agents.codec import BitstreamError
    from gensemcom.agents.semantics import EDGE_HEADER, decode_edges, encode_edges

    if clip_model is None and text_encoder is None:
        text_encoder = build("text", {"backend": "minilm"})
    size = setup.images.shape[1]
    rows = []
    jobs = [(i, s) for i in range(len(setup.images)) for s in seeds]
    total = len(jobs) * (1 + len(formats) * len(bers))
    bar = tqdm(total=total, desc="Phi(BER): generations", mininterval=10)
    for i, seed in jobs:
        original, prompt = setup.images[i], setup.prompts[i]
        gen_seed = 1_000_003 * (seed + 1) + i
        out = generator.generate(prompt, None, None, gen_seed, size)
        rows.append({"image": i, "seed": seed, "condition": "prompt_only", "format": "none",
                     "ber": np.nan, "flipped_bits": 0, "stream_bits": 0, "decoded": True,
                     **_quality(out, original, prompt, prompt_model, clip_model, text_encoder)})
        bar.update()
        for fmt in formats:
            clean = encode_edges(setup.edges[i], compress=(fmt == "zlib"))
            for k, ber in enumerate(bers):
                rng = np.random.default_rng([seed, i, k, formats.index(fmt)])
                got, flips = inject_bit_errors(clean, ber, rng, EDGE_HEADER.size)
                try:
                    edges = decode_edges(got)
                except BitstreamError:
                    edges = None  # the agent's fallback: prompt-only generation
                out = generator.generate(prompt, edges, None, gen_seed, size)
                rows.append({"image": i, "seed": seed, "condition": "prompt_edge", "format": fmt,
                             "ber": ber, "flipped_bits": flips, "stream_bits": 8 * len(clean),
                             "decoded": edges is not None,
                             **_quality(out, original, prompt, prompt_model, clip_model, text_encoder)})
                bar.update()
    bar.close()
    return pd.DataFrame(rows)


def measure_phi(cfg) -> pd.DataFrame:
    """Phi rows of a latency_sweep config (section latency_sweep.phi, the configured models)."""
    from gensemcom.agents.backends import build
    from gensemcom.agents.images import image_set

    c = cfg.latency_sweep.phi
    _, images = image_set(cfg.images.names, cfg.images.size, c.crops_per_image, cfg.seed)
    prompt_model, edge_model = build("prompt", cfg.models.prompt), build("edges", cfg.models.edges)
    generator = build("generator", cfg.models.generator)
    setup = PhiSetup(images, [prompt_model.extract(im) for im in images],
                     [edge_model.detect(im) for im in images])
    return measure(setup, generator, prompt_model, tuple(c.bers), tuple(c.seeds), tuple(c.formats),
                   c.clip_model)
