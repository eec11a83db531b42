"""Semantic decomposition of an image into a text prompt and an edge map.

This is a hand-crafted placeholder until learned models (captioner, HED, classifiers)
are added: ``extract_prompt`` does not recognise objects, it only describes global
statistics (dominant named colours, brightness, saturation, edge density), so two
different scenes with similar colours get the same prompt.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image
from skimage.color import rgb2gray, rgb2hsv, rgb2lab
from skimage.feature import canny

from .codec import BitstreamError

MAX_PROMPT_CHARS = 120

# Colour names from HSV: achromatic pixels are named by brightness, chromatic ones
# by hue sector (upper bound in degrees, name); dark oranges/yellows read as brown.
_COLOUR_NAMES = ("black", "grey", "white", "brown", "red", "orange", "yellow", "green",
                 "teal", "blue", "purple", "pink")
_HUE_SECTORS = ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (200, "teal"),
                (260, "blue"), (290, "purple"), (345, "pink"), (360, "red"))
_HUE_BOUNDS = np.array([deg for deg, _ in _HUE_SECTORS]) / 360.0
_HUE_INDEX = np.array([_COLOUR_NAMES.index(name) for _, name in _HUE_SECTORS])


def _colour_index(hsv: np.ndarray) -> np.ndarray:
    """Index into _COLOUR_NAMES for every pixel (flattened)."""
    h, s, v = (hsv[..., i].ravel() for i in range(3))
    hue = _HUE_INDEX[np.searchsorted(_HUE_BOUNDS, h, side="right")]
    dark_warm = np.isin(hue, [_COLOUR_NAMES.index("orange"), _COLOUR_NAMES.index("yellow")]) & (v < 0.55)
    black, grey, white, brown = range(4)
    return np.select([v < 0.2, (s < 0.2) & (v > 0.8), s < 0.2, dark_warm], [black, white, grey, brown], hue)


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3 image, got {image.dtype} {image.shape}")
    return image


def extract_edges(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Canny edges of the grey image (bool HxW)."""
    return canny(rgb2gray(_check_rgb(image)), sigma=sigma)


def extract_prompt(image: np.ndarray) -> str:
    """Deterministic descriptor, e.g. 'a bright, vivid photo dominated by blue and white, with fine detail'."""
    image = _check_rgb(image)
    hsv = rgb2hsv(image)
    counts = np.bincount(_colour_index(hsv), minlength=len(_COLOUR_NAMES))
    # Ties broken by list order so the result never depends on sort stability.
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    colours = [_COLOUR_NAMES[order[0]]]
    if counts[order[1]] >= 0.15 * counts.sum():
        colours.append(_COLOUR_NAMES[order[1]])

    lightness = float(rgb2lab(image)[..., 0].mean())  # 0..100, perceptual
    tone = "dark" if lightness < 35 else "bright" if lightness > 65 else "moderately lit"
    saturation = float(hsv[..., 1].mean())
    vividness = "muted" if saturation < 0.2 else "vivid" if saturation > 0.5 else "colourful"
    density = float(extract_edges(image).mean())
    detail = "smooth areas" if density < 0.03 else "fine detail" if density > 0.10 else "moderate detail"

    prompt = f"a {tone}, {vividness} photo dominated by {' and '.join(colours)}, with {detail}"
    return prompt[:MAX_PROMPT_CHARS]


# --- lossless edge-map codec -----------------------------------------------------
EDGE_MAGIC = b"GSED"
EDGE_VERSION = 1      # zlib-compressed packed bits (small; one bit error usually ruins it)
EDGE_VERSION_RAW = 2  # packed bits as they are (larger; one bit error = one wrong pixel)
MAX_SIDE = 4096
EDGE_HEADER = struct.Struct(">4sBHH")


def encode_edges(edges: np.ndarray, compress: bool = True) -> bytes:
    """Header (magic, version, H, W) + zlib(np.packbits(edges)), or the packed bits as they are
    (compress=False, version 2) for links that deliver bit errors."""
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.dtype != bool:
        raise ValueError(f"expected a 2-D bool array, got {edges.dtype} {edges.shape}")
    H, W = edges.shape
    if not (1 <= H <= MAX_SIDE and 1 <= W <= MAX_SIDE):
        raise ValueError(f"edge map size {H}x{W} outside 1..{MAX_SIDE}")
    packed = np.packbits(edges).tobytes()
    if not compress:
        return EDGE_HEADER.pack(EDGE_MAGIC, EDGE_VERSION_RAW, H, W) + packed
    return EDGE_HEADER.pack(EDGE_MAGIC, EDGE_VERSION, H, W) + zlib.compress(packed, 9)


def decode_edges(data: bytes) -> np.ndarray:
    data = bytes(data)
    if len(data) < EDGE_HEADER.size:
        raise BitstreamError(f"edge stream too short ({len(data)} bytes)")
    magic, version, H, W = EDGE_HEADER.unpack_from(data)
    if magic != EDGE_MAGIC:
        raise BitstreamError(f"bad magic {magic!r}")
    if version not in (EDGE_VERSION, EDGE_VERSION_RAW):
        raise BitstreamError(f"unsupported version {version}")
    if not (1 <= H <= MAX_SIDE and 1 <= W <= MAX_SIDE):
        raise BitstreamError(f"edge map size {H}x{W} outside 1..{MAX_SIDE}")
    expected = (H * W + 7) // 8
    if version == EDGE_VERSION_RAW:
        if len(data) - EDGE_HEADER.size != expected:
            raise BitstreamError("raw edge payload size does not match the header")
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, offset=EDGE_HEADER.size), count=H * W)
        return bits.reshape(H, W).astype(bool)
    # max_length caps the output so a crafted stream cannot inflate without bound.
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(data[EDGE_HEADER.size:], expected + 1)
    except zlib.error as e:
        raise BitstreamError(f"corrupt edge payload: {e}") from None
    if len(packed) != expected or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise BitstreamError("edge payload size does not match the header")
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=H * W)
    return bits.reshape(H, W).astype(bool)


def render_conditioning(edges: np.ndarray, size: int) -> np.ndarray:
    """White edges on black as uint8 size x size x 3.

    BOX resampling averages when shrinking, so thin lines fade to grey instead of
    vanishing as they would with nearest-neighbour.
    """
    grey = Image.fromarray(np.asarray(edges, dtype=bool).astype(np.uint8) * 255)
    grey = np.asarray(grey.resize((size, size), Image.BOX))
    return np.repeat(grey[:, :, None], 3, axis=2)
