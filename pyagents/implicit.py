"""Implicit prompting, generative-network-layer paper Section II: "g generates x_hat_n based on
the data received previously x_{n-1}, x_{n-2}, ..., x_0"; when x_n does not arrive by its
deadline, g generates an approximate replica locally. The prompt is the data that did arrive:
periodically omitting frames on s - g gives any prompt rate R_p < R_sg.

The predictor here is a simple one, NOT a generative video model (the paper cites Transframer-
like frame predictors): global-motion extrapolation. The per-frame global shift between the
last two received frames is estimated by phase correlation (sub-pixel, upsample factor 10),
divided by their index gap, extrapolated to frame n, and the last received frame is shifted by
it (spline interpolation, border pixels repeated where new content would enter the view). With
one received frame it holds that frame. It is exact up to interpolation and the uncovered
border for a pure camera pan, which is what `pan_sequence` makes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

UPSAMPLE = 10  # phase-correlation sub-pixel precision: 1/10 pixel


def keep_every_mask(n: int, k: int) -> np.ndarray:
    """Received-frame mask of periodic omission: frame i arrives iff i % k == 0."""
    if n < 1 or k < 1:
        raise ValueError(f"need n >= 1 frames and k >= 1, got n={n}, k={k}")
    return np.arange(n) % k == 0


def motion_predicted(received_mask) -> np.ndarray:
    """Frames that `predict` extrapolates with an estimated motion: not received and at least two
    frames received before them (the others missing are held, or, before any, unpredictable)."""
    mask = np.asarray(received_mask, bool)
    return ~mask & (np.cumsum(mask) - mask >= 2)


def pan_sequence(image: np.ndarray, n_frames: int, size: int, step: tuple[float, float]) -> np.ndarray:
    """n_frames frames (n, size, size, 3 uint8) of a camera pan over a still image: a size x size
    window that moves step = (dy, dx) pixels per frame (content moves by -step). The whole pan is
    centred on the image. Integer steps are exact crops; fractional positions are resampled
    bilinearly (scipy.ndimage.shift, order 1, on a crop with a 1-pixel margin). If the image is
    smaller than the pan needs, it is first enlarged (PIL bicubic, aspect kept)."""
    from scipy import ndimage

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
    if n_frames < 1 or size < 1:
        raise ValueError(f"need n_frames >= 1 and size >= 1, got {n_frames}, {size}")
    step = np.asarray(step, float)
    if step.shape != (2,) or not np.all(np.isfinite(step)):
        raise ValueError(f"step must be two finite numbers (dy, dx), got {step}")
    extent = np.abs(step) * (n_frames - 1)              # travel of the window per axis
    need = size + np.ceil(extent).astype(int) + 1        # + 1: margin for fractional positions
    h, w = image.shape[:2]
    scale = max(need[0] / h, need[1] / w)
    if scale > 1:
        new_h, new_w = int(np.ceil(h * scale)), int(np.ceil(w * scale))
        image = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BICUBIC), np.uint8)
        h, w = new_h, new_w
    origin = np.floor((np.array([h, w]) - size - extent) / 2) + np.where(step < 0, extent, 0.0)
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    for i in range(n_frames):
        pos = origin + i * step
        top, left = np.floor(pos).astype(int)
        frac = pos - np.floor(pos)
        if not frac.any():
            frames[i] = image[top:top + size, left:left + size]
            continue
        crop = image[top:top + size + 1, left:left + size + 1].astype(np.float32)
        moved = ndimage.shift(crop, (-frac[0], -frac[1], 0.0), order=1, mode="nearest")
        frames[i] = np.clip(np.rint(moved[:size, :size]), 0, 255).astype(np.uint8)
    return frames


def image_pan(name: str, n_frames: int, size: int, step: tuple[float, float]) -> np.ndarray:
    """A pan over catalogue image `name`, centre-cropped and resized to just cover the pan (the
    scale of the other GNL curves' images plus the travel): what the sweep's implicit curve and
    the ns-3 run both send."""
    from gensemcom.agents.images import load_image

    travel = int(np.ceil(np.abs(np.asarray(step, float)).max() * (n_frames - 1)))
    return pan_sequence(load_image(name, size + travel + 1), n_frames, size, tuple(step))


def estimate_shift(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """(dy, dx) such that shifting `moving` by it registers it onto `reference` (phase
    correlation on the grey level, 1/UPSAMPLE pixel precision)."""
    from skimage.registration import phase_cross_correlation

    ref = np.asarray(reference, np.float64).mean(axis=2)
    mov = np.asarray(moving, np.float64).mean(axis=2)
    shift, _, _ = phase_cross_correlation(ref, mov, upsample_factor=UPSAMPLE)
    return np.asarray(shift, float)


def shift_frame(frame: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The frame moved by (dy, dx) pixels, each channel with scipy.ndimage.shift (cubic spline,
    mode "nearest": uncovered borders repeat the edge pixels)."""
    from scipy import ndimage

    frame = np.asarray(frame)
    if not np.any(shift):
        return frame.copy()
    out = np.stack([ndimage.shift(frame[:, :, c].astype(np.float32), shift, order=3, mode="nearest")
                    for c in range(frame.shape[2])], axis=2)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def predict(history: list[tuple[int, np.ndarray]], n: int) -> np.ndarray:
    """Frame n predicted from the received (index, frame) pairs with index < n: the last frame
    shifted by the global motion extrapolated from the last two (per-frame shift = their phase-
    correlation shift / their index gap); one frame: held; none: ValueError."""
    before = sorted(((int(i), f) for i, f in history if int(i) < n), key=lambda p: p[0])
    if not before:
        raise ValueError(f"cannot predict frame {n}: no frame before it was received")
    i_last, last = before[-1]
    if len(before) == 1:
        return np.array(last, np.uint8, copy=True)
    i_prev, prev = before[-2]
    if i_prev == i_last:
        raise ValueError(f"frame index {i_last} received twice")
    velocity = estimate_shift(last, prev) / (i_last - i_prev)
    return shift_frame(last, velocity * (n - i_last))


def hold(history: list[tuple[int, np.ndarray]], n: int) -> np.ndarray:
    """The baseline predictor: repeat the last frame received before n."""
    before = [(int(i), f) for i, f in history if int(i) < n]
    if not before:
        raise ValueError(f"cannot predict frame {n}: no frame before it was received")
    return np.array(max(before, key=lambda p: p[0])[1], np.uint8, copy=True)


def implicit_reconstruct(frames: np.ndarray, received_mask, predictor=predict) -> np.ndarray:
    """What g delivers: the received frames as they are, every other frame predicted from the
    frames received before it (never from predicted ones). Frame 0 must be received."""
    frames = np.asarray(frames)
    mask = np.asarray(received_mask, bool)
    if frames.ndim != 4 or mask.shape != (len(frames),):
        raise ValueError(f"need frames (n, H, W, 3) and a mask of n booleans, got {frames.shape} and {mask.shape}")
    if not mask[0]:
        raise ValueError("the first frame must be received: there is nothing to predict it from")
    out = np.empty_like(frames)
    history: list[tuple[int, np.ndarray]] = []
    for i, (frame, ok) in enumerate(zip(frames, mask)):
        if ok:
            out[i] = frame
            history.append((i, frame))
        else:
            out[i] = predictor(history, i)
    return out
