"""Pixel swapping (PS), generative-network-layer paper Section IV-2: a fraction gamma of the
original pixels, chosen uniformly at random, travels with the prompt and replaces the
generated pixels at the GenAI node. The positions follow from a seed in the header, so the
payload is the seed plus 24 bits per swapped pixel: L_c = L_p + gamma * L (+ the header).

Bitstream (big-endian): magic b"GSPS", version u8, H u16, W u16, seed u64, count u32, then
count RGB triplets in the order of the seeded selection.
"""

from __future__ import annotations

import struct

import numpy as np

from .codec import BitstreamError

MAGIC = b"GSPS"
VERSION = 1
_HEADER = struct.Struct(">4sBHHQI")
HEADER_BYTES = _HEADER.size
MAX_SIDE = 4096


def selected_pixels(height: int, width: int, count: int, seed: int) -> np.ndarray:
    """Flat indices of `count` distinct pixels, uniformly at random, the same for a given seed."""
    return np.random.default_rng(seed).choice(height * width, size=count, replace=False)


def swap_count(height: int, width: int, fraction: float) -> int:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"swap fraction must be in [0, 1], got {fraction}")
    return int(round(fraction * height * width))


def encode_swap(original: np.ndarray, fraction: float, seed: int) -> bytes:
    """The PS payload for an HxWx3 uint8 image."""
    original = np.asarray(original)
    if original.dtype != np.uint8 or original.ndim != 3 or original.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3 image, got {original.dtype} {original.shape}")
    h, w = original.shape[:2]
    count = swap_count(h, w, fraction)
    idx = selected_pixels(h, w, count, seed)
    values = original.reshape(-1, 3)[idx]
    return _HEADER.pack(MAGIC, VERSION, h, w, seed, count) + values.tobytes()


def apply_swap(generated: np.ndarray, data: bytes) -> np.ndarray:
    """Replace the selected pixels of `generated` with the transmitted originals."""
    if len(data) < HEADER_BYTES:
        raise BitstreamError(f"pixel-swap payload too short ({len(data)} bytes)")
    magic, version, h, w, seed, count = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise BitstreamError(f"not a pixel-swap payload (magic {magic!r}, version {version})")
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or count > h * w:
        raise BitstreamError(f"bad pixel-swap header: {h}x{w}, {count} pixels")
    if len(data) != HEADER_BYTES + 3 * count:
        raise BitstreamError(f"pixel-swap payload has {len(data) - HEADER_BYTES} value bytes, header says {3 * count}")
    if generated.shape != (h, w, 3):
        raise ValueError(f"generated image is {generated.shape}, payload is for {h}x{w}")
    out = np.array(generated, dtype=np.uint8, copy=True)
    flat = out.reshape(-1, 3)
    flat[selected_pixels(h, w, count, seed)] = np.frombuffer(data, np.uint8, offset=HEADER_BYTES).reshape(-1, 3)
    return out


def combined_prompt_bpp(prompt_bpp: float, fraction: float, height: int, width: int) -> float:
    """L_c = L_p + gamma L with L = 24 bpp, plus this payload's header, in bits per pixel
    (gamma rounded to whole pixels, as sent)."""
    pixels = height * width
    return prompt_bpp + (24.0 * swap_count(height, width, fraction) + 8.0 * HEADER_BYTES) / pixels
