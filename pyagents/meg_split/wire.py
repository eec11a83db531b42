"""Wire formats of MEG messages: self-describing payloads, so a receiver needs nothing but the
bytes:
    latent  b"L" fmt(u8) C(u8) h(u16) w(u16) [uint8 only: lo, hi (f32)] values
    raw     b"I" h(u16) w(u16) RGB uint8 (24 bit per pixel)
    png     a PNG file (lossless)
"""
from __future__ import annotations

import io
import struct

import numpy as np

LATENT_FORMATS = {"float32": 0, "float16": 1, "uint8": 2}
IMAGE_FORMATS = ("raw", "png")


class PayloadError(ValueError):
    """Bytes that do not parse as the payload they claim to be."""


def pack_latent(z: np.ndarray, fmt: str) -> bytes:
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 3 or z.shape[0] > 255 or max(z.shape[1:]) > 65535:
        raise ValueError(f"latent must be (C <= 255, h, w), got {z.shape}")
    head = b"L" + struct.pack("<BBHH", LATENT_FORMATS[fmt], *z.shape)
    if fmt == "float32":
        return head + z.astype("<f4").tobytes()
    if fmt == "float16":
        return head + z.astype("<f2").tobytes()
    lo, hi = float(z.min()), float(z.max())
    q = np.round((z - lo) / max(hi - lo, 1e-12) * 255.0).astype(np.uint8)
    return head + struct.pack("<ff", lo, hi) + q.tobytes()


def pack_image(image: np.ndarray, fmt: str) -> bytes:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3, got {image.shape}")
    if fmt == "raw":
        return b"I" + struct.pack("<HH", *image.shape[:2]) + image.tobytes()
    if fmt == "png":
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=6)
        return buf.getvalue()
    raise ValueError(f"unknown image format {fmt!r}; use one of {IMAGE_FORMATS}")


def unpack(data: bytes) -> np.ndarray:
    """Latent (float32 C x h x w) or image (uint8 H x W x 3) from its wire bytes."""
    if data[:1] == b"L":
        if len(data) < 7:
            raise PayloadError("latent header truncated")
        code, c, h, w = struct.unpack_from("<BBHH", data, 1)
        n = c * h * w
        body, dtype = data[7:], {0: "<f4", 1: "<f2", 2: np.uint8}.get(code)
        if dtype is None:
            raise PayloadError(f"unknown latent format code {code}")
        if code == 2:
            if len(body) != 8 + n:
                raise PayloadError(f"uint8 latent of {c}x{h}x{w} needs {8 + n} bytes, got {len(body)}")
            lo, hi = struct.unpack_from("<ff", body)
            q = np.frombuffer(body, np.uint8, offset=8).astype(np.float32)
            return (lo + q / 255.0 * (hi - lo)).reshape(c, h, w)
        size = np.dtype(dtype).itemsize * n
        if len(body) != size:
            raise PayloadError(f"latent of {c}x{h}x{w} needs {size} bytes, got {len(body)}")
        return np.frombuffer(body, dtype).astype(np.float32).reshape(c, h, w)
    if data[:1] == b"I":
        if len(data) < 5:
            raise PayloadError("raw image header truncated")
        h, w = struct.unpack_from("<HH", data, 1)
        if len(data) != 5 + h * w * 3:
            raise PayloadError(f"raw image of {h}x{w} needs {5 + h * w * 3} bytes, got {len(data)}")
        return np.frombuffer(data, np.uint8, offset=5).reshape(h, w, 3)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        from PIL import Image
        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - any PIL failure means undecodable bytes
            raise PayloadError(f"PNG undecodable: {exc}") from None
    raise PayloadError(f"unknown payload type {data[:1]!r}")


def pack_like(value: np.ndarray, latent_format: str, image_format: str) -> bytes:
    return pack_image(value, image_format) if value.dtype == np.uint8 else pack_latent(value, latent_format)
