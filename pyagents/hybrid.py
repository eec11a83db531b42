"""Hybrid prompting, generative-network-layer paper Section II: "a combination of a reduced
version of the original data plus the output of the function f_theta(X)". Here the reduced
version is the original image downsampled by an integer `factor` with PIL's BOX (area) filter,
sent raw next to the latent prompt; g generates from the latent as for explicit prompting and
then replaces the low-pass band of its output with the original's:

    out = clip(up(reduced) + generated - up(down(generated)))

down = the same BOX downsampling, up = bicubic upsampling, both in float. The generated image
keeps its detail (the high-pass band, where the generator invents texture), the reduced version
fixes what the latent gets wrong at coarse scale (colour, brightness, layout). factor 1 sends the
original itself and `combine` returns it exactly.

Payload (big-endian): magic b"GSHY", version u8, factor u16, H u16, W u16, then the reduced
image, ceil(H / factor) x ceil(W / factor) x 3 uint8 RGB, row major. Its size in bits per
original pixel: 24 / factor^2 (+ the 11-byte header): 0.094 / 0.375 / 1.5 bpp at factor
16 / 8 / 4.
"""

from __future__ import annotations

import struct

import numpy as np
from PIL import Image

MAGIC = b"GSHY"
VERSION = 1
_HEADER = struct.Struct(">4sBHHH")
HEADER_BYTES = _HEADER.size
MAX_SIDE = 4096
MAX_FACTOR = 1024


def reduced_shape(height: int, width: int, factor: int) -> tuple[int, int]:
    """Size of the reduced version: every original pixel falls into one reduced pixel."""
    return -(-height // factor), -(-width // factor)


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
    return image


def _check_geometry(factor: int, height: int, width: int) -> None:
    if not 1 <= factor <= MAX_FACTOR:
        raise ValueError(f"reduction factor must be in 1..{MAX_FACTOR}, got {factor}")
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ValueError(f"image side must be in 1..{MAX_SIDE}, got {height}x{width}")


def _resize_float(channels: np.ndarray, size_hw: tuple[int, int], resample) -> np.ndarray:
    """Resize an HxWxC float array channel by channel in PIL's float mode (no rounding)."""
    h, w = size_hw
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(channels[:, :, c], np.float32), mode="F")
                                .resize((w, h), resample), np.float32)
                     for c in range(channels.shape[2])], axis=2)


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """The reduced version as sent: BOX (area) downsampling, uint8."""
    image = _check_image(image, "downsample")
    lh, lw = reduced_shape(*image.shape[:2], factor)
    return np.asarray(Image.fromarray(image).resize((lw, lh), Image.BOX), np.uint8)


def encode_reduced(image: np.ndarray, factor: int) -> bytes:
    """The hybrid payload for an HxWx3 uint8 image: header + the image downsampled by `factor`."""
    image = _check_image(image, "encode_reduced")
    h, w = image.shape[:2]
    _check_geometry(int(factor), h, w)
    low = downsample(image, int(factor))
    return _HEADER.pack(MAGIC, VERSION, int(factor), h, w) + low.tobytes()


def decode_reduced(payload: bytes) -> tuple[np.ndarray, int, int, int]:
    """(reduced uint8 image, factor, H, W) from a payload; ValueError on anything malformed."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValueError(f"hybrid payload must be bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    if len(payload) < HEADER_BYTES:
        raise ValueError(f"hybrid payload too short: {len(payload)} bytes, the header alone is {HEADER_BYTES}")
    magic, version, factor, h, w = _HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise ValueError(f"not a hybrid payload (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise ValueError(f"hybrid payload version {version} is not supported (expected {VERSION})")
    _check_geometry(factor, h, w)
    lh, lw = reduced_shape(h, w, factor)
    expected = HEADER_BYTES + 3 * lh * lw
    if len(payload) != expected:
        kind = "truncated" if len(payload) < expected else "oversized"
        raise ValueError(f"hybrid payload {kind}: {len(payload)} bytes, header ({h}x{w}, factor {factor}) "
                         f"says {expected}")
    low = np.frombuffer(payload, np.uint8, offset=HEADER_BYTES).reshape(lh, lw, 3).copy()
    return low, int(factor), int(h), int(w)


def combine(generated: np.ndarray, payload: bytes) -> np.ndarray:
    """g's output with its low-pass band replaced by the original's:
    clip(up(reduced) + generated - up(down(generated))), float math, rounded to uint8."""
    generated = _check_image(generated, "combine")
    low, factor, h, w = decode_reduced(payload)
    if generated.shape[:2] != (h, w):
        raise ValueError(f"generated image is {generated.shape[0]}x{generated.shape[1]}, payload is for {h}x{w}")
    if factor == 1:  # the reduced version is the original
        return low
    gen = generated.astype(np.float32)
    lh, lw = low.shape[:2]
    gen_low = _resize_float(gen, (lh, lw), Image.BOX)
    detail = gen - _resize_float(gen_low, (h, w), Image.BICUBIC)
    out = _resize_float(low.astype(np.float32), (h, w), Image.BICUBIC) + detail
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def payload_bytes(factor: int, height: int, width: int) -> int:
    """Size of the hybrid payload in bytes, header included."""
    _check_geometry(int(factor), height, width)
    lh, lw = reduced_shape(height, width, int(factor))
    return HEADER_BYTES + 3 * lh * lw


def hybrid_prompt_bpp(latent_bpp: float, factor: int, h: int, w: int) -> float:
    """Prompt size of hybrid prompting in bits per original pixel: the latent plus the reduced
    payload with its header (24 / factor^2 bpp + 88 header bits when factor divides H and W)."""
    return latent_bpp + 8.0 * payload_bytes(factor, h, w) / (h * w)
