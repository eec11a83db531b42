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
