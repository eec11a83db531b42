"""Rate-quality measurement of every codec, generator and JPEG on the held-out images.

    ./run.sh configs/rate_quality.json        (or: python -m gensemcom rate-quality --config ...)

For each method and image: bpp (whole bitstream, headers included), MSE, PSNR, MS-SSIM, LPIPS
(AlexNet), normalised MSE, CLIP(-substitute); per method: the means, FID and KID over the
whole image set, normalised FID. Generators are fed the streams the encoder side produces
(prompt from models.prompt, edge map from models.edges, 8x8 colour hint), and their bpp
counts all of them; the naive baselines get the same streams.

The image set is the held-out images (centre crops) plus random crops of them at random
scales, so that FID/KID have more than a handful of samples (analysis.fid.SAMPLE_SIZE_CAVEAT:
compare FIDs only at equal N).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import metrics

log = logging.getLogger("gensemcom.rate_quality")


@dataclass
class Method:
    label: str
    family: str   # "codec", "jpeg" or "generator"
    spec: dict


def methods_from_config(rq) -> list[Method]:
    out = [Method(c.get("label") or _label(c), "codec", {k: v for k, v in c.items() if k != "label"})
           for c in rq.codecs]
    out += [Method(f"jpeg q{q}", "jpeg", {"backend": "jpeg", "quality": q}) for q in rq.jpeg_qualities]
    out += [Method(g.get("label") or g["backend"], "generator", {k: v for k, v in g.items() if k != "label"})
            for g in rq.generators]
    return out


def _label(spec: dict) -> str:
    return spec["backend"] + "".join(f" {v}" for k, v in spec.items() if k not in ("backend", "label"))


def image_set(names: list[str], size: int, crops_per_image: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Centre crops of the named images plus random crops of them (identifiers, images)."""
    from gensemcom.agents.images import load_image, random_crops

    ids = list(names)
    images = [load_image(n, size) for n in names]
    for i, name in enumerate(names):
        crops = random_crops([name], crops_per_image, size, seed=seed * 1000 + i)
        ids += [f"{name}#crop{j}" for j in range(crops_per_image)]
        images += list(crops)
    return ids, np.stack(images)


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
    from . import fid as fidlib
    from .clip_score import SUBSTITUTE, clip_cosines
    from .lpips import lpips

    rq = cfg.rate_quality
    ids, images = image_set(cfg.images.names, cfg.images.size, rq.crops_per_image, cfg.seed)
    methods = methods_from_config(rq)
    streams, prompt_model = (_streams(images, cfg.models) if any(m.family == "generator" for m in methods)
                             else (None, None))
    from gensemcom.agents.backends import build
    prompt_model = prompt_model or build("prompt", cfg.models.prompt)
    text = build("text", cfg.models.text)
    ref_feats = fidlib.inception_features(images)
    inv_feats = fidlib.inception_features(255 - images)
    fid_inverted = fidlib.fid(ref_feats, inv_feats)
    ref_prompts = [s["prompt"] for s in streams] if streams else [prompt_model.extract(x) for x in images]
    ref_text = text.encode(ref_prompts)
    rows, summary = [], []
    for m in tqdm(methods, desc="methods", mininterval=1):
        rec, nbytes = reconstruct(m, images, streams, cfg.seed)
        feats = fidlib.inception_features(rec)
        lp = lpips(images, rec)
        gen_prompts = [prompt_model.extract(r) for r in rec]
        txt_cos = np.sum(ref_text * text.encode(gen_prompts), axis=1)
        img_cos = np.sum(_unit(ref_feats) * _unit(feats), axis=1)
        clip = (clip_cosines(rec, ref_prompts, rq.clip_model) if rq.clip_model else None)
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
    add_jpeg_at_equal_bpp(table)
    info = {"n_images": len(images), "image_ids": ids, "fid_inverted": fid_inverted,
            "clip_metric": "clip" if rq.clip_model else SUBSTITUTE,
            "fid_caveat": fidlib.SAMPLE_SIZE_CAVEAT}
    return pd.DataFrame(rows), table, info


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def add_jpeg_at_equal_bpp(table: pd.DataFrame) -> None:
    """Columns jpeg_<metric>_at_bpp: JPEG's curve interpolated (linearly in bpp) at each method's bpp."""
    jpeg = table[table["family"] == "jpeg"].sort_values("bpp")
    for metric in ("psnr_db", "lpips", "ms_ssim", "fid", "kid"):
        col = f"jpeg_{metric}_at_bpp"
        table[col] = np.nan
        if len(jpeg) >= 2:
            inside = table["bpp"].between(jpeg["bpp"].min(), jpeg["bpp"].max())
            table.loc[inside, col] = np.interp(table.loc[inside, "bpp"], jpeg["bpp"], jpeg[metric])


def plot(table: pd.DataFrame, path) -> None:
    from .plots import plt, save_or_return  # Agg, or a notebook's inline backend
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    panels = [("psnr_db", "PSNR (dB)"), ("ms_ssim", "MS-SSIM"), ("lpips", "LPIPS (lower is better)"),
              ("fid", "FID (lower is better)"), ("kid", "KID (lower is better)"), ("clip_cosine", "CLIP(-substitute) cosine")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (col, title) in zip(axes.flat, panels):
        jpeg = table[table["family"] == "jpeg"].sort_values("bpp")
        ax.plot(jpeg["bpp"], jpeg[col], "o-", color="grey", label="JPEG")
        codecs = table[table["family"] == "codec"].sort_values("bpp")
        ax.plot(codecs["bpp"], codecs[col], "s-", color="tab:blue", label="learned codec")
        for _, r in codecs.iterrows():
            ax.annotate(r["method"], (r["bpp"], r[col]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        for (_, r), marker in zip(table[table["family"] == "generator"].iterrows(), "^vD<>p"):
            ax.plot(r["bpp"], r[col], marker, markersize=9, label=r["method"])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([0.25, 0.5, 1, 2, 4]))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bits per pixel (whole bitstream)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Rate-quality on {int(table['n_images'].iloc[0])} held-out images / crops")
    fig.tight_layout()
    save_or_return(fig, path, dpi=120)


def markdown(table: pd.DataFrame) -> str:
    cols = ["method", "bpp", "psnr_db", "ms_ssim", "lpips", "fid", "kid", "clip_cosine",
            "jpeg_psnr_db_at_bpp", "jpeg_lpips_at_bpp", "jpeg_fid_at_bpp"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [r[c] if isinstance(r[c], str) else ("" if pd.isna(r[c]) else f"{r[c]:.3f}") for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
