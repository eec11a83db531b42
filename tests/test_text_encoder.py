"""Text encoders (role "text"): MiniLM from the wheel, CLIP from a local directory."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gensemcom.agents import backends
from gensemcom.agents.backends import text
from gensemcom.agents.backends.base import BackendError, TextEncoder
from helpers.tiny_models import tiny_clip

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def minilm():
    return backends.build("text", {"backend": "minilm"})


def test_minilm_reproduces_sentence_transformers(minilm):
    # Reference values from the sentence-transformers docs (sbert.net, "Usage"), computed with
    # SentenceTransformer("all-MiniLM-L6-v2"): similarities 0.6660, 0.1046, 0.1411.
    e = minilm.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sim = e @ e.T
    np.testing.assert_allclose([sim[0, 1], sim[0, 2], sim[1, 2]], [0.6660, 0.1046, 0.1411], atol=6e-4)


def test_minilm_unit_vectors_deterministic_semantic(minilm):
    assert isinstance(minilm, TextEncoder) and minilm.name == "minilm" and minilm.dim == 384
    texts = ["a photo of a cat", "a picture of a kitten", "a rocket launch"]
    e = minilm.encode(texts)
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(e, minilm.encode(texts))
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3
    # padding must not leak into the mean: alone == inside a batch of longer texts
    alone = minilm.encode(["a rocket launch"])
    np.testing.assert_allclose(alone[0], e[2], atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.encode("not a list")


def test_minilm_token_embeddings(minilm):
    h, mask = minilm.token_embeddings(["a cat", "a photo of a dog sitting on a red sofa"], max_len=8)
    assert h.shape == (2, 8, 384) and h.dtype == np.float32 and mask.dtype == bool
    assert mask[0].tolist() == [True] * 4 + [False] * 4  # [CLS] a cat [SEP]
    assert mask[1].all()  # truncated to 8
    assert np.all(h[0, 4:] == 0) and np.abs(h[0, :4]).sum() > 0
    # mean of the real tokens is the (unnormalised) sentence embedding
    pooled = h[0, :4].mean(0)
    np.testing.assert_allclose(pooled / np.linalg.norm(pooled), minilm.encode(["a cat"])[0], atol=1e-5)


def test_registry():
    assert "minilm" in backends.available("text") and "clip" in backends.available("text")
    assert text.DEFAULT == "minilm"
    assert backends.build("text").name == "minilm"
    with pytest.raises(BackendError):
        backends.build("text", {"backend": "word2vec"})
    with pytest.raises(BackendError):
        backends.build("text", {"backend": "clip"})  # needs model=
    with pytest.raises(BackendError):
        backends.build("text", {"backend": "clip", "model": "/nonexistent/clip-dir"})


def test_clip_text_encoder_from_local_dir(tmp_path):
    model, _, tokenizer = tiny_clip(tmp_path)
    enc = backends.build("text", {"backend": "clip", "model": str(tmp_path)})
    assert isinstance(enc, TextEncoder) and enc.name == "clip" and enc.dim == 16
    texts = ["a photo of a cat", "a rocket launch", "x"]
    e = enc.encode(texts)
    assert e.shape == (3, 16) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    # the same weights through the full CLIPModel: normalised projected text features
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        out = model.get_text_features(**batch)
        ref = out if isinstance(out, torch.Tensor) else out.pooler_output
        ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    np.testing.assert_allclose(e, ref, atol=1e-5)
    assert not np.allclose(e[0], e[1], atol=1e-3)
