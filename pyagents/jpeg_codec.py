"""JPEG baseline codec (PIL / libjpeg) with the decoder hardened for corrupted bitstreams.

Error model, as for the learned codecs: a stream whose JPEG header (the markers up to
the first scan) does not parse, is progressive, has no scan or claims a size outside
1..MAX_SIDE raises BitstreamError; errors in the entropy-coded data yield a degraded
image of the header's size (what libjpeg recovers, the rest black).
"""
from __future__ import annotations

import contextlib
import io
import threading

import numpy as np
from PIL import Image, ImageFile

from .codec import BitstreamError

# 4096x4096 RGB is 48 MiB (plus libjpeg's row buffers): the most a header can make us allocate.
MAX_SIDE = 4096
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
_TRUNCATED_LOCK = threading.Lock()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


class JpegCodec:
    def __init__(self, quality: int = 75, subsampling: str = "4:2:0"):
        if not (isinstance(quality, int) and 1 <= quality <= 95):
            raise ValueError(f"JPEG quality must be an int in 1..95 (PIL's useful range), got {quality!r}")
        if subsampling not in SUBSAMPLINGS:
            raise ValueError(f"JPEG subsampling must be one of {SUBSAMPLINGS}, got {subsampling!r}")
        self.quality = quality
        self.subsampling = subsampling
        self.name = f"jpeg-q{quality}"

    def encode(self, image: np.ndarray) -> bytes:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 HxWx3 image, got {image.dtype} {image.shape}")
        if not (1 <= image.shape[0] <= MAX_SIDE and 1 <= image.shape[1] <= MAX_SIDE):
            raise ValueError(f"image size {image.shape[0]}x{image.shape[1]} outside 1..{MAX_SIDE}")
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=self.quality, optimize=True,
                                    subsampling=self.subsampling)
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        data = bytes(data)
        try:
            # Parses the markers up to the frame header only: no pixel memory yet.
            im = Image.open(io.BytesIO(data), formats=["JPEG"])
        except Exception as exc:  # PIL raises many types (OSError, SyntaxError, struct.error, ...)
            raise BitstreamError(f"undecodable JPEG header: {type(exc).__name__}: {exc}") from None
        W, H = im.size
        if not (1 <= H <= MAX_SIDE and 1 <= W <= MAX_SIDE):
            raise BitstreamError(f"JPEG size {H}x{W} outside 1..{MAX_SIDE}")
        if not im.tile:
            raise BitstreamError("JPEG without a scan (no SOS marker after the frame header)")
        if im.info.get("progression"):
            # Our encoder writes baseline only; a progressive stream can hold thousands of
            # scans, each a full pass over the image (a known libjpeg CPU exhaustion).
            raise BitstreamError("progressive JPEG (not produced by this codec)")
        try:
            with _truncated_images_allowed():
                im.load()  # libjpeg replaces undecodable data by zeros and warns
            rgb = np.asarray(im.convert("RGB"))
        except Exception:  # a fatal libjpeg error or a mangled marker after the frame header
            rgb = np.zeros((H, W, 3), np.uint8)
        if rgb.shape != (H, W, 3):  # never seen; keeps the size promise unconditional
            rgb = np.zeros((H, W, 3), np.uint8)
        return rgb


@contextlib.contextmanager
def _truncated_images_allowed():
    """Let PIL return what it decoded from a truncated stream, for this call only.

    PIL reads LOAD_TRUNCATED_IMAGES as a module global at load time: it is set for the
    duration of one load and restored after, never left on for the whole process.
    """
    with _TRUNCATED_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def jpeg_at_bpp(image: np.ndarray, target_bpp: float, subsampling: str = "4:2:0") -> dict:
    """PIL JPEG (optimized Huffman tables, whole file incl. headers) at the quality whose bpp is nearest.

    Returns {"quality", "bpp", "psnr"} for that quality (sweep 1..95).
    """
    image = np.asarray(image)
    best = None
    for q in range(1, 96):
        codec = JpegCodec(q, subsampling)
        data = codec.encode(image)
        bpp = 8 * len(data) / (image.shape[0] * image.shape[1])
        if best is None or abs(bpp - target_bpp) < abs(best["bpp"] - target_bpp):
            best = {"quality": q, "bpp": bpp, "psnr": psnr(image, codec.decode(data))}
    return best
