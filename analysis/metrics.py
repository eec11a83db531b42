"""Image quality and rate metrics on uint8 RGB arrays (H x W x 3)."""

from __future__ import annotations

import math

import numpy as np


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"need two HxWx3 images of equal shape, got {a.shape} and {b.shape}")


def mse(a: np.ndarray, b: np.ndarray) -> float:
    _check_pair(a, b)
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB; +inf for identical images."""
    err = mse(a, b)
    return math.inf if err == 0 else 10.0 * math.log10(peak * peak / err)


def msssim_window(side: int) -> int:
    """Largest odd Gaussian window <= 11 that pytorch-msssim accepts for 5 scales
    (it requires side > (win - 1) * 16)."""
    win = 11
    while win > 3 and side <= (win - 1) * 16:
        win -= 2
    if side <= (win - 1) * 16:
        raise ValueError(f"images of side {side} are too small for 5-scale MS-SSIM")
    return win


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM (Wang et al. 2003, 5 scales) in [0, 1]; the window shrinks for small images."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    _check_pair(a, b)
    win = msssim_window(min(a.shape[:2]))
    ta = torch.from_numpy(np.array(a, dtype=np.float64)).permute(2, 0, 1)[None]
    tb = torch.from_numpy(np.array(b, dtype=np.float64)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(_ms_ssim(ta, tb, data_range=255.0, size_average=True, win_size=win))


def bpp(n_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a payload for an image of the given size."""
    return 8.0 * n_bytes / (height * width)


# --------------------------------------------------------------------------- normalised metrics
# The papers report distortion on a 0 (perfect) .. ~1 (useless) scale. The generative network
# layer paper normalises the MSE "with the MSE of the colour-inverted image": the inverted image
# 255 - x is a reconstruction that keeps every edge but gets every intensity wrong, a natural
# worst case for a given x.

def normalised_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """MSE(x, x_hat) / MSE(x, 255 - x): 0 for a perfect reconstruction, 1 for the inverted image.
    The denominator is >= 1 for any uint8 image (255 is odd, so x != 255 - x everywhere)."""
    _check_pair(x, x_hat)
    x = np.asarray(x)
    return mse(x, x_hat) / mse(x, 255 - x.astype(np.int16))


def normalised_fid(fid_value: float, fid_inverted: float) -> float:
    """FID(reference, generated) / FID(reference, colour-inverted reference).

    Our transfer of the MSE normalisation to FID: the colour-inverted reference set is the same
    worst case, measured by the same estimator on the same N, so the ratio also cancels part of
    the small-N bias of FID (see analysis.fid.SAMPLE_SIZE_CAVEAT). analysis.fid.
    normalised_fid_images computes both terms from images."""
    if not fid_inverted > 0:
        raise ValueError(f"FID of the inverted reference must be > 0, got {fid_inverted}")
    return float(fid_value) / float(fid_inverted)


def normalised_clip(cosine: float) -> float:
    """CLIP cosine similarity mapped from [-1, 1] to [0, 1]: (cos + 1) / 2 (1 = identical)."""
    cosine = float(cosine)
    if not -1.0 - 1e-6 <= cosine <= 1.0 + 1e-6:
        raise ValueError(f"a cosine similarity lies in [-1, 1], got {cosine}")
    return (min(max(cosine, -1.0), 1.0) + 1.0) / 2.0
