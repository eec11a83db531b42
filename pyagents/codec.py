"""A small learned image codec (compressai FactorizedPrior) with a self-describing bitstream.

Bitstream layout (big-endian), version 1:

    magic  b"GSLC"   4 bytes
    version          u8
    H, W             u16, u16   original image size (the codec pads to multiples of 64)
    C, h, w          u16 x 3    latent shape
    n                u8         number of entropy-coded strings
    lengths          u32 x n
    strings          concatenated

Encoding uses compressai's C++ rANS encoder.  Decoding uses a pure-Python port of
compressai's rANS decoder (``RansStream``, also used by the compressai_zoo codec
backend): the C++ decoder reads past the end of its buffer without bounds checks
when the stream is corrupted, which could crash the process.  The port reads zeros
past the end instead and caps escape runs, so its work is bounded by the symbol count.

Rate points: RATE_POINTS names the shipped checkpoints (low / medium / high lambda);
``rate_checkpoint(rate)`` resolves one, ``LatentCodec.load()`` loads medium.

Error model: the header and framing are validated strictly (BitstreamError); the
entropy-coded payload is decoded best-effort, so bit errors inside it yield a
degraded image of the header's size, as a channel with residual errors would.
"""
from __future__ import annotations

import bisect
import math
import struct
from pathlib import Path

import numpy as np

# torch and compressai are imported inside the functions that use them so that
# `from .codec import BitstreamError` (semantics.py) does not load them.

MAGIC = b"GSLC"
VERSION = 1
# Decoding needs ~200 bytes/pixel of activations in g_s, so 2048x2048 (~0.8 GB) bounds
# what a hostile or corrupted header can make the receiver allocate.
MAX_SIDE = 2048
PAD = 64  # pad to a multiple of this (>= the model's downsampling factor 16)
_HEADER = struct.Struct(">4sBHHHHHB")
_LEN = struct.Struct(">I")

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Named rate points: checkpoint file and the lambda (weight of 255^2*MSE against bpp) it is
# trained with.
RATE_POINTS = {
    "low": ("codec_fp_low.pt", 0.0016),
    "medium": ("codec_fp_medium.pt", 0.004),
    "high": ("codec_fp_high.pt", 0.012),
}


def rate_checkpoint(rate: str) -> Path:
    """The checkpoint path of a named rate point (it may not exist; see train_command)."""
    if rate not in RATE_POINTS:
        raise ValueError(f"unknown rate point {rate!r}; known: {list(RATE_POINTS)}")
    return WEIGHTS_DIR / RATE_POINTS[rate][0]


def train_command(rate: str = "medium") -> str:
    """The command that trains a rate point's checkpoint."""
    lmbda = RATE_POINTS[rate][1]
    return (f"python -m gensemcom.agents.train_codec --minutes 25 --lmbda {lmbda} "
            f"--out pyagents/weights/{rate_checkpoint(rate).name}")


DEFAULT_CHECKPOINT = rate_checkpoint("medium")
TRAIN_COMMAND = train_command("medium")


class BitstreamError(ValueError):
    """The input is not a decodable bitstream (bad header, inconsistent framing)."""


def build_model(N: int, M: int):
    from compressai.models import FactorizedPrior
    return FactorizedPrior(N=N, M=M)


class LatentCodec:
    def __init__(self, model, name: str, params: dict):
        self.model = model.eval()
        self.name = name
        self.params = params
        self._tables = cdf_tables(model.entropy_bottleneck)

    @classmethod
    def load(cls, path=None) -> "LatentCodec":
        import torch
        path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if not path.is_file():
            hint = next((train_command(r) for r, (f, _) in RATE_POINTS.items() if f == path.name), TRAIN_COMMAND)
            raise FileNotFoundError(f"codec checkpoint {path} not found; train it with: {hint}")
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        params = dict(ckpt["params"])
        model = build_model(params["N"], params["M"])
        model.load_state_dict(ckpt["state_dict"])
        model.update()  # no-op when the checkpoint already carries the CDF tables
        return cls(model, path.stem, params)

    def encode(self, image: np.ndarray) -> bytes:
        import torch
        import torch.nn.functional as F
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 HxWx3 image, got {image.dtype} {image.shape}")
        H, W = image.shape[:2]
        if not (1 <= H <= MAX_SIDE and 1 <= W <= MAX_SIDE):
            raise ValueError(f"image size {H}x{W} outside 1..{MAX_SIDE}")
        x = torch.tensor(image).permute(2, 0, 1)[None].float() / 255.0
        Hp, Wp = _padded(H), _padded(W)
        # Replicate padding costs fewer bits than zeros; the pad is cropped on decode.
        x = F.pad(x, (0, Wp - W, 0, Hp - H), mode="replicate")
        with torch.no_grad():
            out = self.model.compress(x)
        strings = [s[0] for s in out["strings"]]
        C, (h, w) = self.model.M, out["shape"]
        header = _HEADER.pack(MAGIC, VERSION, H, W, C, h, w, len(strings))
        return header + b"".join(_LEN.pack(len(s)) for s in strings) + b"".join(strings)

    def decode(self, data: bytes) -> np.ndarray:
        import torch
        H, W, (C, h, w), strings = self._parse(bytes(data))
        eb = self.model.entropy_bottleneck
        symbols = RansStream(strings[0]).decode([c for c in range(C) for _ in range(h * w)], self._tables)
        y_hat = torch.tensor(symbols, dtype=torch.float32).reshape(1, C, h, w)
        y_hat += eb._get_medians().detach().reshape(1, C, 1, 1)
        with torch.no_grad():
            x_hat = self.model.g_s(y_hat)[0, :, :H, :W]
        # Garbage latents can drive the synthesis transform to inf/NaN.
        x_hat = torch.nan_to_num(x_hat, nan=0.0, posinf=1.0, neginf=0.0).clamp(0, 1)
        return (x_hat.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)

    def _parse(self, data: bytes):
        """Validate every header field before any decoding work is done."""
        if len(data) < _HEADER.size:
            raise BitstreamError(f"bitstream too short ({len(data)} bytes)")
        magic, version, H, W, C, h, w, n = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise BitstreamError(f"bad magic {magic!r}")
        if version != VERSION:
            raise BitstreamError(f"unsupported version {version}")
        if not (1 <= H <= MAX_SIDE and 1 <= W <= MAX_SIDE):
            raise BitstreamError(f"image size {H}x{W} outside 1..{MAX_SIDE}")
        f = self.model.downsampling_factor
        if (C, h, w) != (self.model.M, _padded(H) // f, _padded(W) // f):
            raise BitstreamError(f"latent shape {(C, h, w)} inconsistent with image {H}x{W} and this model")
        if n != 1:
            raise BitstreamError(f"expected 1 entropy-coded string, got {n}")
        offset = _HEADER.size + n * _LEN.size
        if len(data) < offset:
            raise BitstreamError("truncated string-length table")
        lengths = [_LEN.unpack_from(data, _HEADER.size + i * _LEN.size)[0] for i in range(n)]
        return H, W, (C, h, w), split_strings(data, offset, lengths)


def split_strings(data: bytes, offset: int, lengths: list[int]) -> list[bytes]:
    """The entropy-coded strings after a header; their lengths must fill the payload exactly."""
    if offset + sum(lengths) != len(data):
        raise BitstreamError(f"string lengths {lengths} do not match payload size {len(data) - offset}")
    strings = []
    for length in lengths:
        strings.append(data[offset:offset + length])
        offset += length
    return strings


def _padded(n: int) -> int:
    return math.ceil(n / PAD) * PAD


# --- rANS decoding, a bounds-checked port of compressai/cpp_exts/rans ---------------
_PRECISION = 16
_RANS_L = 1 << 31
_BYPASS_BITS = 4
_BYPASS_MAX = (1 << _BYPASS_BITS) - 1
_MAX_BYPASS_NIBBLES = 8  # the encoder never needs more for an int32 value


def cdf_tables(entropy_model) -> list[tuple[list[int], int]]:
    """(CDF truncated to its length, offset) per CDF index of a compressai EntropyModel."""
    cdfs = entropy_model._quantized_cdf.tolist()
    sizes = entropy_model._cdf_length.reshape(-1).tolist()
    offsets = entropy_model._offset.reshape(-1).tolist()
    return [(cdf[:size], offset) for cdf, size, offset in zip(cdfs, sizes, offsets)]


class RansStream:
    """compressai's RansDecoder (set_stream + decode_stream), reading zeros past the end.

    One stream may be decoded in several calls (autoregressive models decode one
    latent position at a time); work is bounded by the number of symbols asked for.
    """

    def __init__(self, data: bytes):
        if len(data) % 4 or len(data) < 8:
            raise BitstreamError("rANS stream length must be a multiple of 4 and at least 8")
        self._words = struct.unpack(f"<{len(data) // 4}I", data)
        self._pos = 2
        self._x = self._words[0] | (self._words[1] << 32)

    def decode(self, indexes, tables) -> list[int]:
        """One symbol per entry of indexes, each with the CDF tables[index] (see cdf_tables)."""
        words, n_words, pos, x = self._words, len(self._words), self._pos, self._x
        mask = (1 << _PRECISION) - 1
        bisect_right = bisect.bisect_right
        out = []
        for index in indexes:
            cdf, offset = tables[index]
            max_value = len(cdf) - 2
            cum = x & mask
            s = bisect_right(cdf, cum) - 1
            x = (cdf[s + 1] - cdf[s]) * (x >> _PRECISION) + cum - cdf[s]
            if x < _RANS_L:
                x = (x << 32) | (words[pos] if pos < n_words else 0)  # as if zero-padded
                pos += 1
            if s == max_value:  # escape: the value follows in 4-bit bypass chunks
                self._x, self._pos = x, pos
                s = self._bypass(max_value)
                x, pos = self._x, self._pos
            out.append(s + offset)
        self._x, self._pos = x, pos
        return out

    def _get_bits(self) -> int:
        val = self._x & _BYPASS_MAX
        self._x >>= _BYPASS_BITS
        if self._x < _RANS_L:
            self._x = (self._x << 32) | (self._words[self._pos] if self._pos < len(self._words) else 0)
            self._pos += 1
        return val

    def _bypass(self, max_value: int) -> int:
        val = self._get_bits()
        n_bypass = val
        while val == _BYPASS_MAX and n_bypass <= _MAX_BYPASS_NIBBLES:
            val = self._get_bits()
            n_bypass += val
        # Only corrupted streams need more nibbles than an int32 has.
        raw = 0
        for j in range(min(n_bypass, _MAX_BYPASS_NIBBLES)):
            raw |= self._get_bits() << (j * _BYPASS_BITS)
        return -(raw >> 1) - 1 if raw & 1 else (raw >> 1) + max_value


def _rans_decode(data: bytes, channels: int, per_channel: int, cdfs, cdf_sizes, offsets) -> list[int]:
    """Decode channels*per_channel symbols; symbol i uses the CDF of channel i // per_channel."""
    tables = [(cdfs[c][:cdf_sizes[c]], offsets[c]) for c in range(channels)]
    return RansStream(data).decode([c for c in range(channels) for _ in range(per_channel)], tables)
