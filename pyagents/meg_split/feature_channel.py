"""The feature channel of MEG: what the radio does to a feature once its bytes are through."""
from __future__ import annotations

import math

import numpy as np

def awgn(value: np.ndarray, snr_db: float | None, seed: int) -> np.ndarray:
    """The link abstraction for features (the paper's AWGN channel): the bytes cross ns-3 LTE
    intact or not, and the receiver adds white Gaussian noise to the decoded feature values at
    snr_db = 10 log10(mean(x^2) / sigma^2), x the values of this message (images as pixels
    scaled to [-1, 1], then clipped and rounded back). None: a noiseless channel."""
    if snr_db is None:
        return value
    rng = np.random.default_rng(int(seed))
    image = value.dtype == np.uint8
    x = value.astype(np.float32) / 127.5 - 1.0 if image else np.asarray(value, np.float32)
    power = float(np.mean(x.astype(np.float64) ** 2))
    sigma = math.sqrt(power / 10.0 ** (snr_db / 10.0))
    y = x + rng.standard_normal(x.shape).astype(np.float32) * sigma
    if image:
        return np.round((np.clip(y, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return y
