"""codec role: image <-> self-describing bitstream (ImageCodec in base.py).

    learned         our FactorizedPrior LatentCodec (../codec.py) at a named rate point,
                    {"rate": "low"|"medium"|"high"}, or {"checkpoint": path}
    jpeg            PIL JPEG baseline (../jpeg_codec.py), {"quality": 75, "subsampling": "4:2:0"}
    compressai_zoo  a compressai.zoo architecture with weights from a local checkpoint,
                    {"arch": "bmshj2018-hyperprior", "checkpoint": path, "quality": 3}

Every decoder validates the header strictly (codec.BitstreamError) and decodes the
payload best-effort; none runs compressai's C++ rANS decoder on received bytes (see
codec.RansStream for why).

learned and compressai_zoo take {"device": "auto"|"cpu"|"cuda[:N]"} (device.resolve_device):
only their analysis / synthesis transforms run there, in float32 (_transforms_on).
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from ..codec import (MAX_SIDE, RATE_POINTS, BitstreamError, LatentCodec, RansStream, cdf_tables,
                     rate_checkpoint, split_strings)
from ..jpeg_codec import JpegCodec, jpeg_at_bpp  # noqa: F401  (jpeg_at_bpp: re-exported helper)
from .base import BackendError
from .device import place, resolve_device

DEFAULT = "learned"


def learned(rate: str | None = None, checkpoint: str | None = None, device: str = "auto", **unknown) -> LatentCodec:
    """Our LatentCodec at a rate point (default "medium") or from an explicit checkpoint."""
    _reject(unknown, "learned")
    if rate is not None and checkpoint is not None:
        raise BackendError("learned codec: give either rate or checkpoint, not both")
    if checkpoint is None:
        rate = rate or "medium"
        if rate not in RATE_POINTS:
            raise BackendError(f"unknown learned-codec rate {rate!r}; rate points: {list(RATE_POINTS)}")
        checkpoint = rate_checkpoint(rate)
    try:
        codec = LatentCodec.load(checkpoint)
    except FileNotFoundError as exc:
        raise BackendError(str(exc)) from None
    codec.device = _transforms_on(codec.model, device)
    return codec


def jpeg(quality: int = 75, subsampling: str = "4:2:0", **unknown) -> JpegCodec:
    _reject(unknown, "jpeg")
    try:
        return JpegCodec(quality, subsampling)
    except ValueError as exc:
        raise BackendError(str(exc)) from None


def compressai_zoo(arch: str = "bmshj2018-hyperprior", checkpoint: str | None = None,
                   quality: int | None = None, device: str = "auto", **unknown) -> "ZooCodec":
    _reject(unknown, "compressai_zoo")
    codec = ZooCodec.load(arch, checkpoint, quality)
    codec.device = _transforms_on(codec.model, device)
    return codec


def _transforms_on(model, device: str):
    """The analysis and synthesis transforms g_a, g_s (nearly all the compute) on device, in
    float32, taking and giving CPU tensors (device.place). The entropy models, hyperprior and
    context model stay on the CPU: the CDF each symbol is coded with must come out the same
    where the stream is encoded and where it is decoded, whatever either machine is."""
    device = resolve_device(device)
    place(model.g_a, device)
    place(model.g_s, device)
    return device


BACKENDS = {"learned": learned, "jpeg": jpeg, "compressai_zoo": compressai_zoo}


def rate_points() -> list[dict]:
    """The shipped learned rate points, low to high: name, checkpoint path, lambda (from its params)."""
    import torch
    points = []
    for name in RATE_POINTS:
        path = rate_checkpoint(name)
        if path.is_file():
            params = torch.load(path, map_location="cpu", weights_only=True)["params"]
            points.append({"name": name, "checkpoint": path, "lambda": params.get("lambda")})
    return points


def _reject(unknown: dict, backend: str):
    if unknown:
        raise BackendError(f"unknown option(s) {sorted(unknown)} for codec backend {backend!r}")


# --- compressai.zoo architectures --------------------------------------------------
# name -> (id in the bitstream, how its latents are entropy coded).  The ids are part of
# the format: never renumber.  "bmshj2018-factorized-relu" is left out because the zoo
# constructor of compressai 1.2.8 builds the plain factorized model for it.
ZOO_ARCHS = {
    "bmshj2018-factorized": (1, "factorized"),      # y: EntropyBottleneck
    "bmshj2018-hyperprior": (2, "scale"),           # z: EB; y: Gaussian, scales from z
    "mbt2018-mean": (3, "mean_scale"),              # as scale, plus means from z
    "mbt2018": (4, "autoregressive"),               # as mean_scale, plus a causal context model
    "cheng2020-anchor": (5, "autoregressive"),
    "cheng2020-attn": (6, "autoregressive"),
}
ZOO_MAGIC = b"GSZC"
ZOO_VERSION = 1
# magic, version, arch id, quality (0 = sizes taken from the checkpoint), H, W, string count
_ZHEADER = struct.Struct(">4sBBBHHB")
_ZSTRING = struct.Struct(">HHHI")  # per string: latent C, h, w; byte length
_Y_FACTOR, _Z_FACTOR = 16, 64      # downsampling of y and of z in all ZOO_ARCHS
# Autoregressive models decode y one position at a time (a few ms each on a CPU core,
# as in compressai's own decompress): 512x512 is 1024 positions, a few seconds.
AR_MAX_SIDE = 512


class ZooCodec:
    """A compressai.zoo model behind our own bitstream header.

    Layout (big-endian): magic b"GSZC", version u8, arch id u8, quality u8, H u16, W u16,
    n u8, then n x (C u16, h u16, w u16, length u32), then the n strings, in compressai's
    order ([y] or [y, z]).  Decoding mirrors each model's ``decompress`` with RansStream.
    """

    def __init__(self, model, arch: str, quality: int | None):
        self.model = model.eval()
        self.arch = arch
        self.arch_id, self.family = ZOO_ARCHS[arch]
        self.quality = quality or 0
        self.max_side = AR_MAX_SIDE if self.family == "autoregressive" else MAX_SIDE
        self.name = f"compressai_zoo-{arch}-q{quality}" if quality else f"compressai_zoo-{arch}"
        self._eb_tables = cdf_tables(model.entropy_bottleneck)
        self._gc_tables = cdf_tables(model.gaussian_conditional) if self.family != "factorized" else None

    @classmethod
    def load(cls, arch: str, checkpoint, quality: int | None = None) -> "ZooCodec":
        """Build arch (at quality, or sized from the checkpoint when None) and load local weights.

        checkpoint: a state_dict as compressai saves it, bare (zoo .pth.tar) or under
        "state_dict" (compressai's train.py); old key names are renamed as the zoo does.
        """
        import torch
        from compressai.layers import MaskedConv2d
        from compressai.zoo import image as zoo
        from compressai.zoo.pretrained import load_pretrained

        if arch not in ZOO_ARCHS:
            raise BackendError(f"unsupported compressai.zoo architecture {arch!r}; supported: {list(ZOO_ARCHS)}")
        if checkpoint is None or not Path(checkpoint).is_file():
            raise BackendError(f"compressai_zoo needs a local checkpoint file (state_dict), got {checkpoint!r}; "
                               "pretrained zoo weights are never downloaded")
        try:
            obj = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling errors come in many types
            raise BackendError(f"cannot read checkpoint {checkpoint}: {exc}") from None
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
        if not isinstance(state, dict):
            raise BackendError(f"{checkpoint}: not a state_dict checkpoint")
        state = load_pretrained(state)
        try:
            if quality is None:
                model = zoo.model_architectures[arch].from_state_dict(state)
            else:
                model = getattr(zoo, arch.replace("-", "_"))(quality, pretrained=False)
                model.load_state_dict(state)
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise BackendError(f"{checkpoint} does not fit {arch} at quality {quality}: {exc}") from None
        for m in model.modules():
            # compressai masks the context model's weights only inside forward(); a checkpoint
            # saved before any forward pass would make its compress and decompress disagree.
            if isinstance(m, MaskedConv2d):
                m.weight.data *= m.mask
        model.update(force=True)  # CDF tables from the weights, identically on both ends
        return cls(model, arch, quality)

    def latent_shapes(self, H: int, W: int) -> list[tuple[int, int, int]]:
        """(C, h, w) of each string's latent for an H x W image, in bitstream order."""
        Hp, Wp = _ceil_to(H, _Z_FACTOR), _ceil_to(W, _Z_FACTOR)
        y = (self.model.M, Hp // _Y_FACTOR, Wp // _Y_FACTOR)
        if self.family == "factorized":
            return [y]
        return [y, (self.model.entropy_bottleneck.channels, Hp // _Z_FACTOR, Wp // _Z_FACTOR)]

    def encode(self, image: np.ndarray) -> bytes:
        import torch
        import torch.nn.functional as F
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 HxWx3 image, got {image.dtype} {image.shape}")
        H, W = image.shape[:2]
        if not (1 <= H <= self.max_side and 1 <= W <= self.max_side):
            raise ValueError(f"image size {H}x{W} outside 1..{self.max_side} for {self.arch}")
        x = torch.tensor(image).permute(2, 0, 1)[None].float() / 255.0
        # Pad to the z grid for every family so that one shape rule serves all; replicate
        # padding costs fewer bits than zeros and is cropped on decode.
        x = F.pad(x, (0, _ceil_to(W, _Z_FACTOR) - W, 0, _ceil_to(H, _Z_FACTOR) - H), mode="replicate")
        with torch.no_grad():
            out = self.model.compress(x)
        strings = [s[0] for s in out["strings"]]
        shapes = self.latent_shapes(H, W)
        assert tuple(out["shape"]) == shapes[-1][1:], (out["shape"], shapes)
        header = _ZHEADER.pack(ZOO_MAGIC, ZOO_VERSION, self.arch_id, self.quality, H, W, len(strings))
        table = b"".join(_ZSTRING.pack(*shape, len(s)) for shape, s in zip(shapes, strings))
        return header + table + b"".join(strings)

    def decode(self, data: bytes) -> np.ndarray:
        import torch
        H, W, strings = self._parse(bytes(data))
        with torch.no_grad():
            y_hat = self.decode_latent(strings, self.latent_shapes(H, W))
            x_hat = self.model.g_s(y_hat)[0, :, :H, :W]
        # Garbage latents can drive the synthesis transform to inf/NaN.
        x_hat = torch.nan_to_num(x_hat, nan=0.0, posinf=1.0, neginf=0.0).clamp(0, 1)
        return (x_hat.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)

    def decode_latent(self, strings: list[bytes], shapes):
        """y_hat, the input of g_s, as the model's decompress computes it (under no_grad)."""
        import torch
        eb = self.model.entropy_bottleneck
        C, h, w = shapes[-1]  # the EntropyBottleneck's latent: y (factorized) or z
        values = RansStream(strings[-1]).decode([c for c in range(C) for _ in range(h * w)], self._eb_tables)
        latent = torch.tensor(values, dtype=torch.float32).reshape(1, C, h, w)
        latent += eb._get_medians().detach().reshape(1, C, 1, 1)
        if self.family == "factorized":
            return latent
        params = self.model.h_s(latent)
        stream = RansStream(strings[0])
        if self.family == "autoregressive":
            return self._decode_autoregressive(stream, params, shapes[0])
        scales, means = params.chunk(2, 1) if self.family == "mean_scale" else (params, None)
        indexes = self.model.gaussian_conditional.build_indexes(scales).reshape(-1).tolist()
        y_hat = torch.tensor(stream.decode(indexes, self._gc_tables), dtype=torch.float32).reshape(scales.shape)
        return y_hat if means is None else y_hat + means

    def _decode_autoregressive(self, stream: RansStream, params, shape):
        """compressai's _decompress_ar: one y position at a time, in raster order."""
        import torch
        import torch.nn.functional as F
        m = self.model
        C, h, w = shape
        ctx = m.context_prediction
        k = ctx.kernel_size[0]
        pad = (k - 1) // 2
        weight = ctx.weight * ctx.mask
        y_hat = torch.zeros(1, C, h + 2 * pad, w + 2 * pad)
        for i in range(h):
            for j in range(w):
                ctx_p = F.conv2d(y_hat[:, :, i:i + k, j:j + k], weight, bias=ctx.bias)
                gaussian = m.entropy_parameters(torch.cat((params[:, :, i:i + 1, j:j + 1], ctx_p), dim=1))
                scales, means = gaussian.chunk(2, 1)
                indexes = m.gaussian_conditional.build_indexes(scales).reshape(-1).tolist()
                values = torch.tensor(stream.decode(indexes, self._gc_tables), dtype=torch.float32)
                y_hat[0, :, i + pad, j + pad] = values + means.reshape(-1)
        return y_hat[:, :, pad:pad + h, pad:pad + w]

    def _parse(self, data: bytes):
        """Validate every header field before any decoding work is done."""
        if len(data) < _ZHEADER.size:
            raise BitstreamError(f"bitstream too short ({len(data)} bytes)")
        magic, version, arch_id, quality, H, W, n = _ZHEADER.unpack_from(data)
        if magic != ZOO_MAGIC:
            raise BitstreamError(f"bad magic {magic!r}")
        if version != ZOO_VERSION:
            raise BitstreamError(f"unsupported version {version}")
        if arch_id != self.arch_id or quality != self.quality:
            raise BitstreamError(f"stream is for arch id {arch_id} quality {quality}, "
                                 f"this decoder is {self.arch} (id {self.arch_id}) quality {self.quality}")
        if not (1 <= H <= self.max_side and 1 <= W <= self.max_side):
            raise BitstreamError(f"image size {H}x{W} outside 1..{self.max_side}")
        shapes = self.latent_shapes(H, W)
        if n != len(shapes):
            raise BitstreamError(f"expected {len(shapes)} entropy-coded strings, got {n}")
        offset = _ZHEADER.size + n * _ZSTRING.size
        if len(data) < offset:
            raise BitstreamError("truncated string table")
        lengths = []
        for i, expected in enumerate(shapes):
            C, h, w, length = _ZSTRING.unpack_from(data, _ZHEADER.size + i * _ZSTRING.size)
            if (C, h, w) != expected:
                raise BitstreamError(f"latent {i} shape {(C, h, w)} inconsistent with image {H}x{W} "
                                     f"and this model (expected {expected})")
            if length % 4 or length < 8:
                raise BitstreamError(f"string {i} length {length} is not a rANS stream length")
            lengths.append(length)
        return H, W, split_strings(data, offset, lengths)


def _ceil_to(n: int, multiple: int) -> int:
    return math.ceil(n / multiple) * multiple
