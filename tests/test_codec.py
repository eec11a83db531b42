import struct

import numpy as np
import pytest
import torch

from gensemcom.agents import codec, images

# Held-out 128x128 PSNR of the shipped checkpoint (pyagents/weights/codec_fp_medium.json,
# lambda 0.004, ~0.5 bpp) minus 1 dB: enough slack for float differences between
# machines, while a broken decoder or untrained weights (~8 dB) fail clearly.
PSNR_FLOOR = {"barbara": 23.9, "kodim23": 23.9, "monarch": 20.1, "sail": 22.5, "tulips": 19.4}


def test_shipped_checkpoint_is_committed():
    # The weights are part of the repository: a missing file is a failure, never a skip.
    assert codec.DEFAULT_CHECKPOINT.is_file(), f"missing {codec.DEFAULT_CHECKPOINT}; {codec.TRAIN_COMMAND}"


@pytest.fixture(scope="module")
def lc():
    torch.set_num_threads(1)
    return codec.LatentCodec.load()


@pytest.fixture(scope="module")
def stream(lc):
    return lc.encode(images.load_image("kodim23", 128))


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


def test_checkpoint_is_small_and_described(lc):
    assert codec.DEFAULT_CHECKPOINT.stat().st_size <= 5 * 2 ** 20
    assert lc.name == codec.DEFAULT_CHECKPOINT.stem and {"arch", "N", "M", "lambda"} <= set(lc.params)
    assert lc.params["lambda"] == codec.RATE_POINTS["medium"][1]


def test_missing_checkpoint_names_training_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_codec"):
        codec.LatentCodec.load(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="--lmbda 0.0016 --out pyagents/weights/codec_fp_low.pt"):
        codec.LatentCodec.load(tmp_path / "codec_fp_low.pt")


def test_rate_checkpoint_resolution(tmp_path, monkeypatch):
    monkeypatch.setattr(codec, "WEIGHTS_DIR", tmp_path)
    assert codec.rate_checkpoint("low") == tmp_path / "codec_fp_low.pt"  # may not exist
    assert codec.rate_checkpoint("medium") == tmp_path / "codec_fp_medium.pt"
    with pytest.raises(ValueError, match="unknown rate point"):
        codec.rate_checkpoint("ultra")


@pytest.mark.parametrize("name", images.names("heldout"))
def test_roundtrip_heldout(lc, name):
    img = images.load_image(name, 128)
    data = lc.encode(img)
    assert data == lc.encode(img)  # deterministic
    out = lc.decode(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(img, out) > PSNR_FLOOR[name]


def test_roundtrip_odd_size(lc):
    img = np.ascontiguousarray(images.load_native("sail")[:100, :150])
    out = lc.decode(lc.encode(img))
    assert out.shape == (100, 150, 3)
    assert psnr(img, out) > 26  # measured 28.3 dB


def test_python_rans_matches_compressai(lc, stream):
    """The bounds-checked decoder must agree symbol for symbol with compressai's C++ one."""
    from compressai import ans
    H, W, (C, h, w), strings = lc._parse(stream)
    eb = lc.model.entropy_bottleneck
    tables = eb._quantized_cdf.tolist(), eb._cdf_length.tolist(), eb._offset.tolist()
    indexes = eb._build_indexes((1, C, h, w)).reshape(-1).int().tolist()
    ref = ans.RansDecoder().decode_with_indexes(strings[0], indexes, *tables)
    assert codec._rans_decode(strings[0], C, h * w, *tables) == ref


def test_encode_rejects_bad_input(lc):
    with pytest.raises(ValueError):
        lc.encode(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        lc.encode(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        lc.encode(np.zeros((codec.MAX_SIDE + 1, 8, 3), np.uint8))


def _with_header(stream, **fields):
    names = ["magic", "version", "H", "W", "C", "h", "w", "n"]
    values = dict(zip(names, codec._HEADER.unpack_from(stream)))
    values.update(fields)
    return codec._HEADER.pack(*(values[k] for k in names)) + stream[codec._HEADER.size:]


@pytest.mark.parametrize("edit", [
    lambda s: b"",
    lambda s: s[:10],
    lambda s: _with_header(s, magic=b"JPEG"),
    lambda s: _with_header(s, version=2),
    lambda s: _with_header(s, H=0),
    lambda s: _with_header(s, W=codec.MAX_SIDE + 1),
    lambda s: _with_header(s, H=256),          # latent shape no longer matches
    lambda s: _with_header(s, C=7),
    lambda s: _with_header(s, n=2),
    lambda s: s + b"\0",                        # length table vs payload mismatch
    lambda s: s[:-4],
    lambda s: s[:codec._HEADER.size] + struct.pack(">I", 2 ** 32 - 1) + s[codec._HEADER.size + 4:],
    lambda s: s[:codec._HEADER.size] + struct.pack(">I", 7) + s[codec._HEADER.size + 4:][:7],  # not 4-aligned
])
def test_header_validation(lc, stream, edit):
    with pytest.raises(codec.BitstreamError):
        lc.decode(edit(stream))
