"""Phi(BER) of the latency-aware paper (its Fig. 2), measured with the configured models: for
each image, BER and error seed, random bit errors are injected into the edge-map bitstream, the
receiver decodes what it got and the generator draws the image from the prompt and the
received edge map (prompt-only when the stream no longer decodes, as the GenAI agent does).
The curves, their summary and plot are analysis.phi_ber."""
from __future__ import annotations

import functools
import json
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
    prompts: list[str] | dict     # prompt of each original (a job's setup: of its image only)
    edges: list[np.ndarray] | dict  # edge map of each original (bool S x S)


def _quality(generated, original, prompt, prompt_model, clip_model, text_encoder):
    generated_prompt = None if clip_model else prompt_model.extract(generated)
    sem = semantic_similarity(generated, original, prompt, generated_prompt, clip_model, text_encoder)
    return {"semantic_metric": sem["metric"], "semantic": sem["normalised"],
            "ms_ssim": ms_ssim(generated, original)}


def measure(setup: PhiSetup, generator, prompt_model, bers=DEFAULT_BERS, seeds=(0, 1),
            formats=("zlib", "raw"), clip_model: str | None = None, text_encoder=None) -> pd.DataFrame:
    """One row per (image, condition, format, BER, seed) with the quality of the generation.
    text_encoder: a role-"text" backend for the CLIP substitute (MiniLM when None)."""
    text_encoder = _text_encoder(clip_model, text_encoder)
    jobs = [(i, s) for i in range(len(setup.images)) for s in seeds]
    bar = tqdm(total=len(jobs) * (1 + len(formats) * len(bers)), desc="Phi(BER): generations", mininterval=10)
    rows = []
    for i, seed in jobs:
        rows += measure_job(setup, i, seed, generator, prompt_model, bers, formats, clip_model, text_encoder,
                            bar.update)
    bar.close()
    return pd.DataFrame(rows)


def _text_encoder(clip_model, text_encoder):
    from gensemcom.agents.backends import build

    if clip_model is None and text_encoder is None:
        return build("text", {"backend": "minilm"})
    return text_encoder


def measure_job(setup: PhiSetup, i: int, seed: int, generator, prompt_model, bers, formats, clip_model,
                text_encoder, done=lambda: None) -> list[dict]:
    """The rows of image i and one seed: prompt-only, then each format and BER. `done()` after
    each generation."""
    from gensemcom.agents.codec import BitstreamError
    from gensemcom.agents.semantics import EDGE_HEADER, decode_edges, encode_edges

    size = setup.images.shape[1]
    original, prompt = setup.images[i], setup.prompts[i]
    gen_seed = 1_000_003 * (seed + 1) + i
    out = generator.generate(prompt, None, None, gen_seed, size)
    rows = [{"image": i, "seed": seed, "condition": "prompt_only", "format": "none",
             "ber": np.nan, "flipped_bits": 0, "stream_bits": 0, "decoded": True,
             **_quality(out, original, prompt, prompt_model, clip_model, text_encoder)}]
    done()
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
            done()
    return rows


# -- as sweep tasks (campaign.tasks): one per image and seed ------------------------------------

def phi_job_tasks(cfg) -> list:
    """latency_sweep's Phi jobs: one task per image of the set (images + crops) and seed."""
    from gensemcom.agents.images import image_set
    from gensemcom.campaign.tasks import Task

    c = cfg.latency_sweep.phi
    _, images = image_set(cfg.images.names, cfg.images.size, c.crops_per_image, cfg.seed)
    setup = {"images": cfg.images.model_dump(), "models": cfg.models.model_dump(), "phi": c.model_dump(),
             "seed": cfg.seed}
    return [Task("gensemcom.scenarios.latency_aware.phi:phi_job_task", {**setup, "image": i, "job_seed": s},
                 f"Phi image {i} seed {s}") for i in range(len(images)) for s in c.seeds]


@functools.cache
def _models(models_json: str, clip_model: str | None):
    """The Phi models of a worker, built once for all its jobs."""
    from gensemcom.agents.backends import build
    from gensemcom.config import ModelsConfig

    m = ModelsConfig(**json.loads(models_json))
    return (build("prompt", m.prompt), build("edges", m.edges), build("generator", m.generator),
            _text_encoder(clip_model, None))


def phi_job_task(out, images: dict, models: dict, phi: dict, seed: int, image: int, job_seed: int) -> None:
    """One Phi job (an image and a seed) into out/rows.parquet."""
    from gensemcom.agents.images import image_set
    from gensemcom.config import ImagesConfig, PhiConfig

    from gensemcom.core.torch_threads import one_torch_thread

    # One thread: the rows are then identical with any number of workers (they differ by
    # ~1e-5 between 1 and 2 threads).
    with one_torch_thread():
        im, c = ImagesConfig(**images), PhiConfig(**phi)
        prompt_model, edge_model, generator, text_encoder = _models(json.dumps(models, sort_keys=True), c.clip_model)
        _, originals = image_set(im.names, im.size, c.crops_per_image, seed)
        one = originals[image]
        setup = PhiSetup(originals, {image: prompt_model.extract(one)}, {image: edge_model.detect(one)})
        rows = measure_job(setup, image, job_seed, generator, prompt_model, tuple(c.bers), tuple(c.formats),
                           c.clip_model, text_encoder)
    pd.DataFrame(rows).to_parquet(out / "rows.parquet", index=False)


def read_phi_rows(folders) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f / "rows.parquet") for f in folders], ignore_index=True)
