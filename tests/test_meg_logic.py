"""Mobile edge generation without models or ns-3: wire formats, the feature channel, the
strip split / blend of the cooperative protocols, the pick rule, the protocol table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gensemcom.agents.meg_split import feature_channel, protocols as meg_protocols, wire
from gensemcom.agents.meg_split import strips as meg_strips
from gensemcom.config import ConfigError, parse_config


def _latent(shape=(4, 32, 32), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _image(h=64, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- wire formats --------------------------------------------------------------------------

def test_latent_formats_round_trip_with_their_sizes():
    z = _latent()
    exact = wire.unpack(wire.pack_latent(z, "float32"))
    assert np.array_equal(exact, z)
    assert len(wire.pack_latent(z, "float32")) == 7 + 4 * z.size
    half = wire.pack_latent(z, "float16")
    assert len(half) == 7 + 2 * z.size
    assert np.abs(wire.unpack(half) - z).max() < 2e-3 * np.abs(z).max()
    q = wire.pack_latent(z, "uint8")
    assert len(q) == 7 + 8 + z.size
    step = (z.max() - z.min()) / 255
    assert np.abs(wire.unpack(q) - z).max() <= step / 2 + 1e-5


def test_image_formats_round_trip():
    img = _image(48, 64)
    raw = wire.pack_image(img, "raw")
    assert len(raw) == 5 + img.size and np.array_equal(wire.unpack(raw), img)
    assert np.array_equal(wire.unpack(wire.pack_image(img, "png")), img)


@pytest.mark.parametrize("data", [b"", b"L\x01", wire.pack_latent(_latent(), "float16")[:-1],
                                  wire.pack_image(_image(), "raw") + b"x", b"\x89PNG\r\n\x1a\nbroken", b"?abc"])
def test_malformed_payloads_raise_payload_error(data):
    with pytest.raises(wire.PayloadError):
        wire.unpack(data)


# -- the feature channel -------------------------------------------------------------------

@pytest.mark.parametrize("snr_db", [-20.0, 0.0, 10.0, 20.0])
def test_awgn_has_the_configured_snr(snr_db):
    z = _latent((4, 64, 64))
    noisy = feature_channel.awgn(z, snr_db, seed=5)
    measured = 10 * np.log10(np.mean(z.astype(np.float64) ** 2) / np.mean((noisy - z).astype(np.float64) ** 2))
    assert abs(measured - snr_db) < 0.1
    assert np.array_equal(noisy, feature_channel.awgn(z, snr_db, seed=5))          # seeded
    assert not np.array_equal(noisy, feature_channel.awgn(z, snr_db, seed=6))


def test_awgn_on_images_stays_uint8_and_none_is_noiseless():
    img = _image()
    assert feature_channel.awgn(img, None, 1) is img
    noisy = feature_channel.awgn(img, 0.0, 1)
    assert noisy.dtype == np.uint8 and noisy.shape == img.shape and not np.array_equal(noisy, img)


# -- split and merge -----------------------------------------------------------------------

def test_split_spans_cover_the_rows_with_overlap_on_multiples():
    spans = meg_strips.split_spans(32, 2, 4, 4)
    assert spans == [(0, 20), (12, 32)]
    spans = meg_strips.split_spans(32, 3, 4, 4)
    assert spans[0][0] == 0 and spans[-1][1] == 32
    for (a, b), (c, d) in zip(spans, spans[1:]):
        assert c < b and b - c == 8          # neighbours share 2 x overlap rows
    assert all(a % 4 == 0 and b % 4 == 0 for a, b in spans)
    assert meg_strips.split_spans(32, 1, 4, 4) == [(0, 32)]
    assert meg_strips.split_spans(16, 4, 0, 4) == [(0, 4), (4, 8), (8, 12), (12, 16)]


@pytest.mark.parametrize("rows, parts, overlap, multiple", [(32, 9, 4, 4), (32, 2, 3, 4), (30, 2, 4, 4), (32, 0, 4, 4)])
def test_split_spans_rejects_impossible_splits(rows, parts, overlap, multiple):
    with pytest.raises(ValueError):
        meg_strips.split_spans(rows, parts, overlap, multiple)


def test_blend_weights_cross_fade_to_one():
    rows, overlap = 32, 4
    spans = meg_strips.split_spans(rows, 3, overlap, 4)
    total = np.zeros(rows)
    for a, b in spans:
        w = meg_strips.blend_weights((a, b), rows, overlap)
        assert w.shape == (b - a,) and (w > 0).all() and (w <= 1).all()
        total[a:b] += w
    assert np.allclose(total, 1.0)


@pytest.mark.parametrize("parts, overlap", [(2, 4), (3, 4), (2, 0), (4, 8)])
def test_merge_of_a_split_is_the_original(parts, overlap):
    z = _latent((4, 32, 32))
    spans = meg_strips.split_spans(32, parts, overlap, 4)
    merged = meg_strips.merge_parts([z[:, a:b] for a, b in spans], spans, 32, overlap, axis=1)
    assert np.allclose(merged, z, atol=1e-6)
    img = _image(128, 128)   # the same strips in pixels (VAE factor 4)
    pix = meg_strips.merge_parts([img[4 * a:4 * b] for a, b in spans], spans, 32, overlap, axis=0)
    assert np.array_equal(pix, img)


def test_merge_blends_linearly_across_the_overlap():
    spans = meg_strips.split_spans(32, 2, 4, 4)               # [(0, 20), (12, 32)]: rows 12..19 shared
    top, bottom = np.zeros((1, 20, 2), np.float32), np.ones((1, 20, 2), np.float32)
    merged = meg_strips.merge_parts([top, bottom], spans, 32, 4, axis=1)[0, :, 0]
    assert np.all(merged[:12] == 0) and np.all(merged[20:] == 1)
    ramp = merged[12:20]
    assert np.all(np.diff(ramp) > 0) and np.allclose(ramp, (np.arange(8) + 0.5) / 8)


def test_merge_at_sketch_resolution():
    """Partial sketches are at half the strip's pixel rows: spans scale with them."""
    spans = meg_strips.split_spans(32, 2, 4, 4)
    sketch = _image(64, 64)
    parts = [sketch[2 * a:2 * b] for a, b in spans]     # 2 sketch rows per latent row
    assert np.array_equal(meg_strips.merge_parts(parts, spans, 32, 4, axis=0), sketch)
    with pytest.raises(ValueError):
        meg_strips.merge_parts([parts[0], parts[1][:-1]], spans, 32, 4, axis=0)


def test_pick_closest_takes_the_nearest_candidate_at_its_resolution():
    ref = _image(64, 64, seed=1)
    far, near = _image(32, 32, seed=2), np.asarray(ref[::2, ::2])
    assert meg_strips.pick_closest(ref, [far, near, far]) == 1
    assert meg_strips.pick_closest(ref, [near, near]) == 0


# -- protocol table and config -------------------------------------------------------------

def test_protocol_table_matches_the_paper():
    p = meg_protocols.PROTOCOLS
    assert set(p) == {"full_ue", "full_es", "uieg", "eiug", "ciag", "esuc", "uidg", "diug", "dsuc", "uidcg", "dcsuc"}
    assert (p["uieg"].uplink, p["uieg"].downlink) == ("latent", "image")
    assert (p["eiug"].uplink, p["eiug"].downlink) == ("image", "latent")
    assert (p["ciag"].uplink, p["ciag"].downlink) == ("latent", "latent")
    assert p["full_ue"].uplink is None and not p["full_ue"].es_ops
    assert all(p[n].multi_es for n in ("uidg", "diug", "dsuc", "uidcg", "dcsuc"))
    assert meg_protocols.post_stages(p["diug"]) == (("decode",), "pick", ())
    assert meg_protocols.post_stages(p["dsuc"]) == ((), "pick", ("complete",))
    assert meg_protocols.post_stages(p["uidcg"]) == ((), "merge", ("decode",))
    assert meg_protocols.post_stages(p["ciag"]) == (("decode",), None, ())


def _meg_cfg(**meg_keys):
    return {"name": "m", "scenario": "meg", "meg": meg_keys}


@pytest.mark.parametrize("data, key", [
    (_meg_cfg(protocols=["uidcg"], num_es=1), "meg.num_es"),
    (_meg_cfg(protocols=["ciag", "ciag"]), "meg.protocols"),
    (_meg_cfg(protocols=["nope"]), "meg.protocols.0"),
    (_meg_cfg(sketch_side=48), "meg.sketch_side"),
    (_meg_cfg(snr_db=-100), "meg.snr_db"),
    (_meg_cfg(latent_format="int4"), "meg.latent_format"),
    ({**_meg_cfg(), "images": {"size": 72}}, "images.size"),
])
def test_bad_meg_config_names_its_key(data, key):
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert str(exc.value).startswith(f"config error: {key}:"), str(exc.value)


def test_shipped_meg_configs_cover_every_protocol():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    seen = set()
    for name in ("meg_single_es.json", "meg_multi_es.json"):
        cfg = parse_config(json.loads((root / name).read_text()))
        assert cfg.scenario == "meg" and "full_es" in cfg.meg.protocols   # the reduction's reference
        seen |= set(cfg.meg.protocols)
    assert seen == set(meg_protocols.PROTOCOLS)
