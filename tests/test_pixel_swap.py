"""Pixel swapping: bpp accounting L_c = L_p + gamma L, the swap itself, and bad payloads."""

from __future__ import annotations

import numpy as np
import pytest

from gensemcom.agents import images, pixel_swap as ps
from gensemcom.agents.codec import BitstreamError

ORIGINAL = images.load_image("kodim23", 128)
GENERATED = np.full_like(ORIGINAL, 128)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.37, 1.0])
def test_bpp_accounting_matches_the_payload(fraction):
    data = ps.encode_swap(ORIGINAL, fraction, seed=7)
    pixels = 128 * 128
    assert 8 * len(data) / pixels == pytest.approx(ps.combined_prompt_bpp(0.0, fraction, 128, 128))
    # L_c = L_p + gamma * 24 bpp (+ 21 header bytes): with L_p = 0.5 bpp
    expected = 0.5 + 24 * round(fraction * pixels) / pixels + 8 * ps.HEADER_BYTES / pixels
    assert ps.combined_prompt_bpp(0.5, fraction, 128, 128) == pytest.approx(expected)


def test_swap_puts_originals_exactly_at_the_selected_pixels():
    data = ps.encode_swap(ORIGINAL, 0.2, seed=3)
    out = ps.apply_swap(GENERATED, data)
    idx = ps.selected_pixels(128, 128, ps.swap_count(128, 128, 0.2), 3)
    mask = np.zeros(128 * 128, bool)
    mask[idx] = True
    assert np.array_equal(out.reshape(-1, 3)[mask], ORIGINAL.reshape(-1, 3)[mask])
    assert np.array_equal(out.reshape(-1, 3)[~mask], GENERATED.reshape(-1, 3)[~mask])
    assert mask.sum() == round(0.2 * 128 * 128)


def test_distortion_falls_with_the_fraction_and_vanishes_at_one():
    mse = [np.mean((ps.apply_swap(GENERATED, ps.encode_swap(ORIGINAL, f, 1)).astype(float) - ORIGINAL) ** 2)
           for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a > b for a, b in zip(mse, mse[1:]))
    assert mse[-1] == 0.0


def test_positions_depend_on_the_seed_only():
    a = ps.selected_pixels(64, 64, 100, 5)
    assert np.array_equal(a, ps.selected_pixels(64, 64, 100, 5))
    assert not np.array_equal(a, ps.selected_pixels(64, 64, 100, 6))
    assert len(set(a.tolist())) == 100  # distinct pixels


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d[:10], "too short"),
    (lambda d: b"XXXX" + d[4:], "not a pixel-swap"),
    (lambda d: d[:-3], "value bytes"),
    (lambda d: d + b"\x00", "value bytes"),
    (lambda d: d[:5] + (0).to_bytes(2, "big") + d[7:], "bad pixel-swap header"),
])
def test_bad_payloads_raise(mutate, match):
    data = ps.encode_swap(ORIGINAL, 0.05, seed=2)
    with pytest.raises(BitstreamError, match=match):
        ps.apply_swap(GENERATED, mutate(data))


def test_bad_arguments():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        ps.encode_swap(ORIGINAL, 1.5, 0)
    with pytest.raises(ValueError, match="payload is for 128x128"):
        ps.apply_swap(np.zeros((64, 64, 3), np.uint8), ps.encode_swap(ORIGINAL, 0.1, 0))
