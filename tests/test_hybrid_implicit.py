"""Hybrid prompting (agents.hybrid: reduced original + latent) and implicit prompting
(agents.implicit: missing frames predicted from the received ones): payload round trip and exact
bpp accounting, the low-pass replacement, robustness against corrupted payloads, global-motion
prediction on a pan sequence. Fast, no models."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from gensemcom.agents import hybrid as hy
from gensemcom.agents import implicit as im
from gensemcom.agents.images import load_image
from gensemcom.analysis.metrics import normalised_mse


@pytest.fixture(scope="module")
def image():
    return load_image("kodim23", 128)


# --------------------------------------------------------------------------- hybrid

@pytest.mark.parametrize("factor, shape", [(16, (128, 128)), (8, (128, 128)), (4, (128, 128)), (1, (128, 128)),
                                           (5, (67, 90)), (3, (1, 7))])
def test_reduced_payload_round_trip_and_exact_bpp(factor, shape):
    x = np.random.default_rng(factor).integers(0, 256, (*shape, 3), dtype=np.uint8)
    payload = hy.encode_reduced(x, factor)
    low, f, h, w = hy.decode_reduced(payload)
    lh, lw = -(-shape[0] // factor), -(-shape[1] // factor)
    assert (f, h, w) == (factor, *shape) and low.shape == (lh, lw, 3) and low.dtype == np.uint8
    assert np.array_equal(low, np.asarray(Image.fromarray(x).resize((lw, lh), Image.BOX)))
    assert len(payload) == hy.HEADER_BYTES + 3 * lh * lw == hy.payload_bytes(factor, *shape)
    bpp = hy.hybrid_prompt_bpp(0.25, factor, *shape)
    assert bpp == 0.25 + 8 * len(payload) / (shape[0] * shape[1])
    if factor == 1:
        assert np.array_equal(low, x)


def test_reduced_payload_sizes_at_128px():
    # 24 / factor^2 bpp + the 11-byte header
    for factor, raw in ((16, 0.09375), (8, 0.375), (4, 1.5), (1, 24.0)):
        assert hy.hybrid_prompt_bpp(0.0, factor, 128, 128) == pytest.approx(raw + 88 / 128 ** 2, abs=1e-15)


def test_combine_with_the_original_returns_the_original(image):
    for factor in (16, 8, 4, 2):
        out = hy.combine(image, hy.encode_reduced(image, factor))
        assert out.dtype == np.uint8 and out.shape == image.shape
        # only the rounding of the reduced version to uint8 separates them
        assert np.abs(out.astype(int) - image).max() <= 1
    assert np.array_equal(hy.combine(255 - image, hy.encode_reduced(image, 1)), image)  # factor 1: exact


def _generated_stand_ins(image):
    blur = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2.5)))
    tinted = np.clip(blur * np.array([0.8, 1.0, 1.15]) + 12, 0, 255).astype(np.uint8)
    shifted = np.roll(image, (3, -2), axis=(0, 1))
    return {"blurred": blur, "blurred + colour cast": tinted, "shifted": shifted}


def test_combine_improves_distortion_of_a_wrong_generated_image(image):
    for name, generated in _generated_stand_ins(image).items():
        before = normalised_mse(image, generated)
        after = [normalised_mse(image, hy.combine(generated, hy.encode_reduced(image, f))) for f in (16, 8, 4)]
        assert all(a < before for a in after), (name, before, after)
        assert after[2] < after[0], (name, after)          # a larger reduced version helps more
    cast = _generated_stand_ins(image)["blurred + colour cast"]
    assert normalised_mse(image, hy.combine(cast, hy.encode_reduced(image, 8))) < 0.5 * normalised_mse(image, cast)


def test_combine_rejects_a_size_mismatch(image):
    payload = hy.encode_reduced(image, 8)
    with pytest.raises(ValueError, match="payload is for 128x128"):
        hy.combine(image[:64], payload)
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        hy.combine(image.astype(np.float32), payload)


@pytest.mark.parametrize("payload, match", [
    (b"", "too short"),
    (b"GSHY\x01\x00", "too short"),
    (b"XXXX" + bytes(7) + bytes(3), "magic"),
    (b"GSHY\x02" + bytes(6), "version"),
    (b"GSHY\x01\x00\x00\x00\x10\x00\x10", "factor"),            # factor 0
    (b"GSHY\x01\x00\x04\xff\xff\xff\xff" + bytes(30), "side"),    # 65535 x 65535
    (b"GSHY\x01\x00\x04\x00\x10\x00\x10" + bytes(47), "truncated"),
    (b"GSHY\x01\x00\x04\x00\x10\x00\x10" + bytes(49), "oversized"),
])
def test_decode_errors_are_clear(payload, match):
    with pytest.raises(ValueError, match=match):
        hy.decode_reduced(payload)


def test_corrupted_payloads_give_valueerror_or_a_valid_image(image):
    good = hy.encode_reduced(image, 8)
    rng = np.random.default_rng(7)
    outcomes = {"error": 0, "image": 0}
    for trial in range(400):
        data = bytearray(good)
        kind = trial % 4
        if kind == 0:       # flip random bytes, mostly in the header
            for _ in range(rng.integers(1, 4)):
                data[rng.integers(0, hy.HEADER_BYTES + 4)] = rng.integers(0, 256)
        elif kind == 1:     # truncate
            data = data[:rng.integers(0, len(data))]
        elif kind == 2:     # append garbage
            data += rng.integers(0, 256, rng.integers(1, 50), dtype=np.uint8).tobytes()
        else:               # random bytes with a valid magic/version
            data = bytearray(hy.MAGIC + bytes([hy.VERSION])) + rng.integers(0, 256, rng.integers(0, 64), dtype=np.uint8).tobytes()
        try:
            out = hy.combine(image, bytes(data))
        except ValueError:
            outcomes["error"] += 1
            continue
        assert out.shape == image.shape and out.dtype == np.uint8
        outcomes["image"] += 1
    assert outcomes["error"] >= 200 and outcomes["image"] >= 1, outcomes   # value-byte flips still decode


# --------------------------------------------------------------------------- implicit

@pytest.fixture(scope="module")
def pan(image):
    return im.pan_sequence(load_image("kodim23", 180), 8, 96, (1, 3))


def test_pan_sequence_is_a_moving_crop(pan):
    assert pan.shape == (8, 96, 96, 3) and pan.dtype == np.uint8
    # integer steps: frame i+1 is frame i moved by (-1, -3) where both overlap
    assert np.array_equal(pan[1][:-1, :-3], pan[0][1:, 3:])
    small = im.pan_sequence(load_image("kodim23", 64), 5, 64, (0, -2.5))   # too small: enlarged first
    assert small.shape == (5, 64, 64, 3)
    assert np.allclose(im.estimate_shift(small[2], small[0]), (0, 5), atol=0.25)


def test_keep_every_mask():
    assert im.keep_every_mask(7, 3).tolist() == [True, False, False, True, False, False, True]
    assert im.keep_every_mask(4, 1).all()
    with pytest.raises(ValueError):
        im.keep_every_mask(4, 0)


def test_predict_recovers_a_known_integer_shift(pan):
    # content moves by (-1, -3) per frame: phase correlation between frames 2 and 4 gives (-2, -6)
    assert np.allclose(im.estimate_shift(pan[4], pan[2]), (-2, -6), atol=0.05)
    predicted = im.predict([(0, pan[0]), (2, pan[2]), (4, pan[4])], 6)
    held = pan[4]
    inner = (slice(0, 96 - 2 * 2), slice(0, 96 - 2 * 6))   # where the content was seen before
    assert np.abs(predicted[inner].astype(int) - pan[6][inner]).max() <= 1
    assert normalised_mse(pan[6], predicted) < 0.1 * normalised_mse(pan[6], held)
    assert np.array_equal(im.predict([(3, pan[3])], 5), pan[3])   # one frame: held
    with pytest.raises(ValueError, match="no frame before"):
        im.predict([(5, pan[5])], 5)


def test_implicit_reconstruct_keeps_received_frames_and_beats_hold(pan):
    for k in (2, 3, 7):
        mask = im.keep_every_mask(len(pan), k)
        rec = im.implicit_reconstruct(pan, mask)
        assert rec.shape == pan.shape and np.array_equal(rec[mask], pan[mask])
        held = im.implicit_reconstruct(pan, mask, im.hold)
        assert np.array_equal(held[1], pan[0])
        ours = np.mean([normalised_mse(a, b) for a, b in zip(pan, rec)])
        base = np.mean([normalised_mse(a, b) for a, b in zip(pan, held)])
        assert 0 < ours <= base
        if k == 2:
            assert ours < 0.5 * base
    assert np.array_equal(im.implicit_reconstruct(pan, np.ones(len(pan), bool)), pan)
    with pytest.raises(ValueError, match="first frame"):
        im.implicit_reconstruct(pan, ~im.keep_every_mask(len(pan), 2))


def test_motion_predicted_marks_the_extrapolated_frames():
    assert im.motion_predicted(im.keep_every_mask(12, 4)).nonzero()[0].tolist() == [5, 6, 7, 9, 10, 11]
    assert not im.motion_predicted(im.keep_every_mask(12, 12)).any()     # only frame 0: every frame held
    assert not im.motion_predicted(im.keep_every_mask(12, 11)).any()     # frames 0 and 11: nothing after 11
    assert im.motion_predicted(im.keep_every_mask(4, 2)).tolist() == [False, False, False, True]
