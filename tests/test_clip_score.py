"""CLIP similarity (a tiny random CLIP loaded from a local directory) and the labelled substitute."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from gensemcom.analysis import clip_score as C
from helpers.tiny_models import tiny_clip

torch.set_num_threads(1)


CAT = data.chelsea()[:256, 100:356]
ASTRO = data.astronaut()[:256, 128:384]


def test_real_clip_from_local_dir(tmp_path):
    model, processor, _ = tiny_clip(tmp_path)
    texts = ["a photo of a cat", "an astronaut in a suit"]
    r = C.clip_score(CAT, texts[0], str(tmp_path))
    assert r["metric"] == "clip" and r["model"] == str(tmp_path)
    assert -1 <= r["cosine"] <= 1 and r["normalised"] == pytest.approx((r["cosine"] + 1) / 2)
    # the same numbers through CLIPModel.forward: logits_per_image = exp(logit_scale) * cos
    with torch.no_grad():
        out = model(**processor(text=texts, images=[CAT, ASTRO], return_tensors="pt", padding=True))
        ref = (out.logits_per_image / model.logit_scale.exp()).numpy()
    got = C.clip_cosines([CAT, ASTRO, CAT], [texts[0], texts[1], texts[1]], str(tmp_path))
    np.testing.assert_allclose(got, [ref[0, 0], ref[1, 1], ref[0, 1]], atol=1e-5)
    assert r["cosine"] == pytest.approx(ref[0, 0], abs=1e-5)
    assert abs(ref[0, 0] - ref[0, 1]) > 1e-4  # the text matters
    via = C.semantic_similarity(CAT, ASTRO, texts[0], "ignored", clip_model=str(tmp_path))
    assert via["metric"] == "clip" and via["cosine"] == pytest.approx(r["cosine"], abs=1e-6)
    with pytest.raises(ValueError):
        C.clip_cosines([CAT], texts, str(tmp_path))


def test_missing_clip_is_a_clear_error():
    with pytest.raises(C.ClipUnavailable, match="offline"):
        C.clip_score(CAT, "a cat", "/nonexistent/clip-model")


@pytest.fixture(scope="module")
def minilm():
    from gensemcom.agents.backends import build
    return build("text", {"backend": "minilm"})


@pytest.fixture(scope="module")
def substitute_results(minilm):
    rng = np.random.default_rng(0)
    noisy_cat = np.clip(CAT + rng.normal(0, 8, CAT.shape), 0, 255).astype(np.uint8)
    same = C.clip_substitute(CAT, CAT, "a cat sitting on a sofa", "a cat sitting on a sofa", minilm)
    close = C.clip_substitute(noisy_cat, CAT, "a cat sitting on a sofa", "a kitten lying on a couch", minilm)
    far = C.clip_substitute(ASTRO, CAT, "a cat sitting on a sofa", "a rocket launching into space", minilm)
    return same, close, far


@pytest.mark.slow
def test_substitute_known_values(substitute_results):
    same, close, far = substitute_results
    for r in (same, close, far):
        assert r["metric"] == "clip_substitute" and r["text_encoder"] == "minilm"
        assert r["cosine"] == pytest.approx((r["image_cosine"] + r["text_cosine"]) / 2)
        assert r["normalised"] == pytest.approx((r["cosine"] + 1) / 2)
    assert same["image_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert same["text_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert same["normalised"] == pytest.approx(1.0, abs=1e-5)
    assert close["text_cosine"] > far["text_cosine"] + 0.2
    assert close["image_cosine"] > far["image_cosine"]
    assert same["normalised"] > close["normalised"] > far["normalised"]


def test_never_mixed(substitute_results, minilm):
    same, close, far = substitute_results
    agg = C.aggregate([close, far])
    assert agg["metric"] == "clip_substitute" and agg["n"] == 2
    assert agg["normalised"] == pytest.approx((close["normalised"] + far["normalised"]) / 2)
    fake_clip = {"metric": "clip", "model": "m", "cosine": 0.3, "normalised": 0.65}
    with pytest.raises(ValueError, match="refusing"):
        C.aggregate([close, fake_clip])
    with pytest.raises(ValueError, match="refusing"):
        C.aggregate([fake_clip, dict(fake_clip, model="other")])
    with pytest.raises(ValueError):
        C.semantic_similarity(CAT, CAT, "a cat")  # no CLIP and no extracted prompt
    with pytest.raises(ValueError):
        C.semantic_similarity(CAT, CAT, "a cat", "a cat")  # no CLIP and no text encoder
    via = C.semantic_similarity(CAT, CAT, "a cat", "a cat", text_encoder=minilm)
    assert via["metric"] == "clip_substitute" and via["normalised"] == pytest.approx(1.0, abs=1e-5)
