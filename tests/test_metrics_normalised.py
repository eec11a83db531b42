"""The papers' normalisations on known inputs (pure numpy; the FID one also on real images)."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from gensemcom.analysis import metrics as M


def test_normalised_mse_known_values():
    img = data.astronaut()[:64, :64]
    assert M.normalised_mse(img, img) == 0.0
    assert M.normalised_mse(img, 255 - img) == pytest.approx(1.0)
    # hand-computed: x = 0 everywhere -> denominator 255^2; x_hat = 51 -> (51/255)^2 = 0.04
    zero = np.zeros((4, 4, 3), np.uint8)
    assert M.normalised_mse(zero, np.full_like(zero, 51)) == pytest.approx(0.04)
    # mid-grey is the hardest case for the denominator (127 vs 128): still finite, >= 1
    grey = np.full((4, 4, 3), 127, np.uint8)
    assert M.normalised_mse(grey, np.full_like(grey, 137)) == pytest.approx(100.0)


def test_normalised_mse_orders_distortions():
    img = data.chelsea()[:96, :96]
    rng = np.random.default_rng(0)
    light = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
    assert 0 < M.normalised_mse(img, light) < M.normalised_mse(img, heavy) < 1
    with pytest.raises(ValueError):
        M.normalised_mse(img, img[:10])


def test_normalised_fid_and_clip():
    assert M.normalised_fid(0.0, 120.0) == 0.0
    assert M.normalised_fid(30.0, 120.0) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        M.normalised_fid(1.0, 0.0)
    assert M.normalised_clip(1.0) == 1.0
    assert M.normalised_clip(-1.0) == 0.0
    assert M.normalised_clip(0.0) == 0.5
    assert M.normalised_clip(0.3) == pytest.approx(0.65)
    with pytest.raises(ValueError):
        M.normalised_clip(1.5)


def test_existing_metrics_unchanged():
    img = data.chelsea()[:96, :96]
    assert M.psnr(img, img) == float("inf")
    assert M.bpp(1000, 100, 80) == 1.0


@pytest.mark.slow
def test_normalised_fid_images_on_real_crops():
    import torch

    from gensemcom.analysis import fid as F

    torch.set_num_threads(1)
    ref = [data.astronaut()[y:y + 96, x:x + 96] for y, x in ((0, 0), (200, 150), (300, 300), (50, 380))]
    rng = np.random.default_rng(1)
    noisy = [np.clip(im + rng.normal(0, 6, im.shape), 0, 255).astype(np.uint8) for im in ref]
    out = F.normalised_fid_images(ref, noisy)
    assert out["fid_inverted"] > out["fid"] > 0
    assert 0 < out["normalised_fid"] < 0.5
    assert out["normalised_fid"] == pytest.approx(out["fid"] / out["fid_inverted"])
    inv = F.normalised_fid_images(ref, [255 - im for im in ref])
    assert inv["normalised_fid"] == pytest.approx(1.0, abs=1e-6)
