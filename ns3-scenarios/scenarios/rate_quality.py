"""Scenario `rate_quality`: every codec, generator and JPEG on the held-out images, bpp vs
quality (the table, figure and Markdown are analysis.rate_quality).

    ./run.sh configs/rate_quality.json

For each method and image: bpp (whole bitstream, headers included), MSE, PSNR, MS-SSIM, LPIPS
(AlexNet), normalised MSE, CLIP(-substitute); per method: the means, FID and KID over the
whole image set, normalised FID. Generators are fed the streams the encoder side produces
(prompt from models.prompt, edge map from models.edges, 8x8 colour hint), and their bpp
counts all of them; the naive baselines get the same streams. The image set is the held-out
images (centre crops) plus random crops of them (agents.images.image_set).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import metrics
from gensemcom.analysis import rate_quality as rq_table
from gensemcom.core.records import write_summary


@dataclass
class Method:
    label: str
    family: str   # "codec", "jpeg" or "generator"
    spec: dict


def methods_from_config(rq) -> list[Method]:
    codecs = [c.model_dump(exclude_none=True) for c in rq.codecs]
    generators = [g.model_dump(exclude_none=True) for g in rq.generators]
    out = [Method(c.get("label") or _label(c), "codec", {k: v for k, v in c.items() if k != "label"})
           for c in codecs]
    out += [Method(f"jpeg q{q}", "jpeg", {"backend": "jpeg", "quality": q}) for q in rq.jpeg_qualities]
    out += [Method(g.get("label") or g["backend"], "generator", {k: v for k, v in g.items() if k != "label"})
            for g in generators]
    return out


def _label(spec: dict) -> str:
    return spec["backend"] + "".join(f" {v}" for k, v in spec.items() if k not in ("backend", "label"))


def _streams(images: np.ndarray, models_cfg) -> tuple[list[dict], object]:
    """What the encoder side sends for the generators (prompt, edge bitstream, hint) per image,
    and the prompt extractor, which also describes the reconstructions."""
    from gensemcom.agents import ldm
    from gensemcom.agents.backends import build
    from gensemcom.agents.semantics import decode_edges, encode_edges

    prompt_model = build("prompt", models_cfg.prompt)
    edge_model = build("edges", models_cfg.edges)
    out = []
    for img in tqdm(images, desc="encoder side (prompt, edges, hint)", mininterval=5):
        prompt = prompt_model.extract(img)
        edge_bits = encode_edges(edge_model.detect(img))
        hint = ldm.make_hint(img)
        out.append({"prompt": prompt, "edges": decode_edges(edge_bits), "hint": hint,
                    "bytes": len(prompt.encode()) + len(edge_bits) + hint.nbytes,
                    "bytes_prompt": len(prompt.encode()), "bytes_edge": len(edge_bits),
                    "bytes_hint": hint.nbytes})
    return out, prompt_model


def reconstruct(method: Method, images: np.ndarray, streams: list[dict] | None, seed: int):
    """(reconstructions, bytes per image) of one method."""
    from gensemcom.agents.backends import build

    if method.family in ("codec", "jpeg"):
        codec = build("codec", method.spec)
        bits = [codec.encode(img) for img in images]
        return np.stack([codec.decode(b) for b in bits]), [len(b) for b in bits]
    gen = build("generator", method.spec)
    size = images.shape[1]
    out = [gen.generate(s["prompt"], s["edges"], s["hint"], seed * 1_000_003 + i, size)
           for i, s in enumerate(streams)]
    return np.stack(out), [s["bytes"] for s in streams]


def measure(cfg) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-image rows, per-method summary and the reference info, for a rate_quality config."""
    from gensemcom.agents.backends import build
    from gensemcom.agents.images import image_set
    from gensemcom.analysis import fid as fidlib
    from gensemcom.analysis.clip_score import SUBSTITUTE, clip_cosines
    from gensemcom.analysis.lpips import lpips

    rq = cfg.rate_quality
    ids, images = image_set(cfg.images.names, cfg.images.size, rq.crops_per_image, cfg.seed)
    methods = methods_from_config(rq)
    streams, prompt_model = (_streams(images, cfg.models) if any(m.family == "generator" for m in methods)
                             else (None, None))
    prompt_model = prompt_model or build("prompt", cfg.models.prompt)
    text = build("text", cfg.models.text)
    device = cfg.agents.metrics_device()
    ref_feats = fidlib.inception_features(images, device=device)
    inv_feats = fidlib.inception_features(255 - images, device=device)
    fid_inverted = fidlib.fid(ref_feats, inv_feats)
    ref_prompts = [s["prompt"] for s in streams] if streams else [prompt_model.extract(x) for x in images]
    ref_text = text.encode(ref_prompts)
    rows, summary = [], []
    for m in tqdm(methods, desc="methods", mininterval=1):
        rec, nbytes = reconstruct(m, images, streams, cfg.seed)
        feats = fidlib.inception_features(rec, device=device)
        lp = lpips(images, rec, device=device)
        gen_prompts = [prompt_model.extract(r) for r in rec]
        txt_cos = np.sum(ref_text * text.encode(gen_prompts), axis=1)
        img_cos = np.sum(rq_table.unit_rows(ref_feats) * rq_table.unit_rows(feats), axis=1)
        clip = (clip_cosines(rec, ref_prompts, rq.clip_model, device) if rq.clip_model else None)
        for i, (img_id, x, y) in enumerate(zip(ids, images, rec)):
            row = {"method": m.label, "family": m.family, "image": img_id,
                   "bpp": metrics.bpp(nbytes[i], *x.shape[:2]), "mse": metrics.mse(x, y),
                   "psnr_db": metrics.psnr(x, y), "ms_ssim": metrics.ms_ssim(x, y), "lpips": float(lp[i]),
                   "normalised_mse": metrics.normalised_mse(x, y),
                   "clip_metric": "clip" if clip is not None else SUBSTITUTE,
                   "clip_cosine": float(clip[i]) if clip is not None else float((img_cos[i] + txt_cos[i]) / 2),
                   "image_cosine": float(img_cos[i]), "text_cosine": float(txt_cos[i]),
                   "prompt_original": ref_prompts[i], "prompt_generated": gen_prompts[i]}
            if streams and m.family == "generator":
                row.update({k: streams[i][k] for k in ("bytes_prompt", "bytes_edge", "bytes_hint")})
            rows.append(row)
        fid_value = fidlib.fid(ref_feats, feats)
        kid_mean, kid_std = fidlib.kid(ref_feats, feats, subsets=50, subset_size=len(images), seed=cfg.seed)
        frame = pd.DataFrame([r for r in rows if r["method"] == m.label])
        summary.append({"method": m.label, "family": m.family, "n_images": len(images),
                        **{k: float(frame[k].mean()) for k in ("bpp", "mse", "psnr_db", "ms_ssim", "lpips",
                                                                "normalised_mse", "clip_cosine")},
                        "normalised_clip": float(metrics.normalised_clip(frame["clip_cosine"].mean())),
                        "fid": fid_value, "kid": kid_mean, "kid_std": kid_std,
                        "normalised_fid": metrics.normalised_fid(fid_value, fid_inverted)})
    table = pd.DataFrame(summary)
    rq_table.add_jpeg_at_equal_bpp(table)
    info = {"n_images": len(images), "image_ids": ids, "fid_inverted": fid_inverted,
            "clip_metric": "clip" if rq.clip_model else SUBSTITUTE,
            "fid_caveat": fidlib.SAMPLE_SIZE_CAVEAT}
    return pd.DataFrame(rows), table, info


def run(cfg, out: Path) -> dict:
    rows, table, info = measure(cfg)
    rows.to_parquet(out / "rate_quality_images.parquet", index=False)
    table.to_parquet(out / "rate_quality.parquet", index=False)
    rq_table.plot(table, out / "rate_quality.png")
    md = rq_table.markdown(table)
    (out / "rate_quality.md").write_text(md + "\n")
    summary = {"name": cfg.name, "results": str(out), **info,
               "table": table.astype(object).where(table.notna(), None).to_dict("records")}
    write_summary(out, summary)
    return {**summary, "markdown": md}


def report(summary: dict) -> str:
    return summary["markdown"]
