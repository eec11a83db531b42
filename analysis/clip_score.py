"""Semantic similarity of a generated image: real CLIP, or a labelled substitute.

"clip"             cosine between the CLIP image embedding of the generated image and the CLIP
                   text embedding of the prompt (transformers CLIPModel + CLIPProcessor from a
                   local directory or an HF id already in the local cache).
"clip_substitute"  when no CLIP is configured: the mean of
                     image_cosine  cosine of Inception-v3 pool features (analysis.fid) of the
                                   generated vs the original image, and
                     text_cosine   MiniLM cosine of the original prompt vs the prompt extracted
                                   from the generated image.
                   Inception pool features are post-ReLU (non-negative), so image_cosine sits in
                   [0, 1] and runs high even for unrelated images: it is NOT on CLIP's scale.

Every result dict carries ``metric``; aggregate() refuses to average results of different
metrics, so the two can never be mixed silently. ``normalised`` = (cos + 1) / 2 (the papers').
"""
from __future__ import annotations

import functools

import numpy as np

from .metrics import normalised_clip

CLIP = "clip"
SUBSTITUTE = "clip_substitute"


class ClipUnavailable(RuntimeError):
    """A configured CLIP cannot be loaded offline."""


# --------------------------------------------------------------------------- real CLIP

@functools.lru_cache(maxsize=2)
def load_clip(model: str, device: str = "cpu"):
    """(CLIPModel on device, in float32; CLIPProcessor) from a local path or cached HF id; never
    downloads."""
    from transformers import CLIPModel, CLIPProcessor

    try:
        net = CLIPModel.from_pretrained(model, local_files_only=True)
        processor = CLIPProcessor.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ClipUnavailable(f"cannot load CLIP {model!r} offline (give a local directory or an HF id "
                           f"already in the local cache): {e}") from e
    return net.eval().to(device), processor


def _embeds(out):
    import torch
    # transformers >= 5 returns a ModelOutput whose pooler_output is the projected embedding.
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def clip_cosines(images, texts: list[str], model: str, device="cpu") -> np.ndarray:
    """Cosine between CLIP embeddings of images[i] and texts[i]; float64 (n,). CLIP runs on
    device (a torch device: "cpu", "cuda:0", a torch.device)."""
    import torch

    from .fid import image_list

    images = image_list(images)
    if isinstance(texts, str):
        texts = [texts]
    if len(images) != len(texts):
        raise ValueError(f"{len(images)} images but {len(texts)} texts")
    device = str(torch.device(device))
    net, processor = load_clip(str(model), device)
    max_len = net.config.text_config.max_position_embeddings
    with torch.inference_mode():
        pix = processor(images=images, return_tensors="pt")["pixel_values"].to(device)
        tok = processor(text=list(texts), return_tensors="pt", padding=True, truncation=True,
                        max_length=max_len).to(device)
        img = _embeds(net.get_image_features(pixel_values=pix))
        txt = _embeds(net.get_text_features(input_ids=tok["input_ids"],
                                            attention_mask=tok["attention_mask"]))
        cos = torch.nn.functional.cosine_similarity(img.double(), txt.double(), dim=-1)
    return cos.cpu().numpy()


def clip_score(image: np.ndarray, text: str, model: str, device="cpu") -> dict:
    """Real CLIP similarity of one image and one text."""
    cos = float(clip_cosines([image], [text], model, device)[0])
    return {"metric": CLIP, "model": str(model), "cosine": cos, "normalised": normalised_clip(cos)}


# --------------------------------------------------------------------------- substitute

def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    u, v = np.asarray(u, np.float64).ravel(), np.asarray(v, np.float64).ravel()
    den = np.linalg.norm(u) * np.linalg.norm(v)
    if den == 0:
        raise ValueError("cosine of a zero vector")
    return float(np.clip(u @ v / den, -1.0, 1.0))


def clip_substitute(generated: np.ndarray, original: np.ndarray, prompt_original: str,
                    prompt_generated: str, text_encoder, device="cpu") -> dict:
    """Substitute for CLIP when none is configured (see module doc). ``text_encoder`` is any
    role-"text" backend (the substitute is defined with MiniLM); Inception runs on device."""
    from .fid import inception_features

    enc = text_encoder
    feats = inception_features([generated, original], device=device)
    emb = enc.encode([prompt_original, prompt_generated])
    img_cos, txt_cos = _cosine(feats[0], feats[1]), _cosine(emb[0], emb[1])
    mean = (img_cos + txt_cos) / 2.0
    return {"metric": SUBSTITUTE, "image_features": "inception-v3 pool3", "text_encoder": enc.name,
            "image_cosine": img_cos, "text_cosine": txt_cos, "cosine": mean,
            "normalised": normalised_clip(mean)}


def semantic_similarity(generated: np.ndarray, original: np.ndarray, prompt_original: str,
                        prompt_generated: str | None = None, clip_model: str | None = None,
                        text_encoder=None, device="cpu") -> dict:
    """Real CLIP (generated image vs the original prompt) when ``clip_model`` is given, else
    the substitute, which needs ``prompt_generated`` (the prompt extracted from the output) and
    ``text_encoder``. The metric's networks run on device (a torch device)."""
    if clip_model:
        return clip_score(generated, prompt_original, clip_model, device)
    if prompt_generated is None or text_encoder is None:
        raise ValueError("clip_substitute needs prompt_generated and text_encoder (no CLIP model configured)")
    return clip_substitute(generated, original, prompt_original, prompt_generated, text_encoder, device)


def aggregate(results: list[dict]) -> dict:
    """Mean cosine / normalised score of results of ONE metric; raises on a mix."""
    if not results:
        raise ValueError("no results to aggregate")
    names = {(r["metric"], r.get("model"), r.get("text_encoder")) for r in results}
    if len(names) != 1:
        raise ValueError(f"refusing to average different metrics / models: {sorted(names, key=str)}")
    metric, model, text_encoder = names.pop()
    out = {"metric": metric, "n": len(results)}
    out.update({k: v for k, v in (("model", model), ("text_encoder", text_encoder)) if v})
    for key in ("cosine", "normalised", "image_cosine", "text_cosine"):
        if key in results[0]:
            out[key] = float(np.mean([r[key] for r in results]))
    return out
