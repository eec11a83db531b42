import time
import zlib

import numpy as np
import pytest

from gensemcom.agents import codec, images, semantics


@pytest.fixture(scope="module")
def heldout():
    return {n: images.load_image(n, 128) for n in images.names("heldout")}


def test_prompt_deterministic_ascii_bounded(heldout):
    prompts = []
    for img in heldout.values():
        p = semantics.extract_prompt(img)
        assert p == semantics.extract_prompt(img.copy())
        assert p.isascii() and 0 < len(p) <= semantics.MAX_PROMPT_CHARS
        prompts.append(p)
    assert len(set(prompts)) > 1, "descriptor should tell at least some held-out images apart"


def test_prompt_describes_flat_colours():
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 220
    assert "blue" in semantics.extract_prompt(blue)
    black = np.zeros((64, 64, 3), np.uint8)
    p = semantics.extract_prompt(black)
    assert "dark" in p and "black" in p and "smooth" in p


def test_extract_edges(heldout):
    img = heldout["monarch"]
    e = semantics.extract_edges(img)
    assert e.dtype == bool and e.shape == img.shape[:2] and 0 < e.mean() < 0.5
    # A larger sigma smooths more, so it finds fewer edges.
    assert semantics.extract_edges(img, sigma=4).sum() < semantics.extract_edges(img, sigma=1).sum()


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (127, 129), (128, 128)])
def test_edge_codec_lossless(shape):
    edges = np.random.default_rng(0).random(shape) < 0.2
    out = semantics.decode_edges(semantics.encode_edges(edges))
    assert out.dtype == bool and np.array_equal(out, edges)


def test_edge_codec_real_edges(heldout):
    edges = semantics.extract_edges(heldout["sail"])
    data = semantics.encode_edges(edges)
    assert np.array_equal(semantics.decode_edges(data), edges)
    assert len(data) < edges.size / 8  # compresses below the packed size


def _edge_header(h, w, magic=b"GSED", version=1):
    return semantics.EDGE_HEADER.pack(magic, version, h, w)


@pytest.mark.parametrize("data", [
    b"", b"GSE", _edge_header(4, 4, magic=b"XXXX") + zlib.compress(b"\0\0"),
    _edge_header(4, 4, version=9) + zlib.compress(b"\0\0"),
    _edge_header(0, 4) + zlib.compress(b""), _edge_header(4097, 4) + zlib.compress(b"\0"),
    _edge_header(4, 4) + zlib.compress(b"\0"),            # too few bytes for 4x4
    _edge_header(4, 4) + zlib.compress(b"\0\0\0"),        # too many
    _edge_header(4, 4) + zlib.compress(b"\0\0") + b"x",   # trailing garbage
    _edge_header(4, 4) + b"not zlib",
])
def test_edge_header_validation(data):
    with pytest.raises(codec.BitstreamError):
        semantics.decode_edges(data)


def test_edge_decompression_bomb_is_cheap():
    bomb = _edge_header(16, 16) + zlib.compress(bytes(50_000_000), 9)
    t = time.monotonic()
    with pytest.raises(codec.BitstreamError):
        semantics.decode_edges(bomb)
    assert time.monotonic() - t < 1.0


def test_edge_codec_fuzz(heldout):
    """>= 200 corruptions: each must raise BitstreamError or decode to the header's size."""
    rng = np.random.default_rng(1)
    data = semantics.encode_edges(semantics.extract_edges(heldout["kodim23"]))
    header = semantics.EDGE_HEADER.size
    cases = []
    for _ in range(100):  # bit flips anywhere
        b = bytearray(data)
        for pos in rng.integers(len(b) * 8, size=rng.integers(1, 4)):
            b[pos // 8] ^= 1 << (pos % 8)
        cases.append(bytes(b))
    cases += [data[: rng.integers(len(data))] for _ in range(40)]                    # truncations
    cases += [rng.bytes(int(rng.integers(0, 600))) for _ in range(30)]              # random bytes
    cases += [data[:header] + rng.bytes(len(data) - header) for _ in range(15)]     # random payload
    for _ in range(30):                                                             # header edits
        b = bytearray(data)
        b[rng.integers(header)] = rng.integers(256)
        cases.append(bytes(b))
    assert len(cases) >= 200
    for case in cases:
        try:
            out = semantics.decode_edges(case)
        except codec.BitstreamError:
            continue
        h, w = semantics.EDGE_HEADER.unpack_from(case)[2:]
        assert out.shape == (h, w) and out.dtype == bool


def test_render_conditioning():
    edges = np.zeros((32, 32), bool)
    edges[10, :] = True
    img = semantics.render_conditioning(edges, 64)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert img[20:22].min() == 255 and img[:20].max() == 0
    # Shrinking keeps a thin line visible.
    assert semantics.render_conditioning(edges, 8).max() > 0


def test_raw_edge_format_round_trips_and_rejects_wrong_sizes():
    rng = np.random.default_rng(3)
    edges = rng.random((13, 21)) < 0.1
    raw = semantics.encode_edges(edges, compress=False)
    assert len(raw) == 9 + (13 * 21 + 7) // 8
    assert np.array_equal(semantics.decode_edges(raw), edges)
    for bad in (raw[:-1], raw + b"\0"):
        with pytest.raises(codec.BitstreamError):
            semantics.decode_edges(bad)


def test_raw_edge_format_turns_one_bit_error_into_one_wrong_pixel():
    edges = np.zeros((16, 16), bool)
    raw = bytearray(semantics.encode_edges(edges, compress=False))
    raw[9 + 5] ^= 0b0001_0000  # pixel 5 * 8 + 3 = 43
    out = semantics.decode_edges(bytes(raw))
    assert out.sum() == 1 and out.reshape(-1)[43]
