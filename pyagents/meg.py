"""Mobile edge generation (MEG, paper mobile-edge-generation.md): the protocols, the wire
formats of their messages, the feature channel, the split / merge logic of the cooperative
protocols, and the ops one node's agent runs on its part of the split model.

Task: text-guided image-to-image generation (the paper's case study, SDEdit with our split
latent diffusion model): the UE's image is VAE-encoded (the *seed*), noised to step k of the
DDIM schedule, denoised over [k, N) conditioned on the prompt, and decoded.

Every protocol is three stages, UE -> ES(s) -> UE (see PROTOCOLS):
    ue_pre   ops at the UE on its image, then one message to each ES used (uplink)
    es_ops   ops at each ES on what arrived, then one message back (downlink)
    ue_post  ops at the UE on the replies; "pick" / "merge" combines the K replies (the ops
             before it run on every reply, the ops after it on the combined value)
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import numpy as np

# -- protocols ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    name: str
    family: str                 # baseline | single_es | parallel | cooperative
    ue_pre: tuple[str, ...]
    uplink: str | None          # payload kind UE -> each ES (None: nothing is sent)
    es_ops: tuple[str, ...]
    downlink: str | None        # payload kind ES -> UE
    ue_post: tuple[str, ...]
    summary: str

    @property
    def multi_es(self) -> bool:
        return self.family in ("parallel", "cooperative")


def _p(name, family, ue_pre, uplink, es_ops, downlink, ue_post, summary):
    return Protocol(name, family, tuple(ue_pre), uplink, tuple(es_ops), downlink, tuple(ue_post), summary)


GENERATE = ("encode", "denoise", "decode")
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    _p("full_ue", "baseline", GENERATE, None, (), None, (),
       "the UE generates alone; nothing is transmitted"),
    _p("full_es", "baseline", (), "image", GENERATE, "image", (),
       "centralised: image (+ prompt) up, the ES generates, image down"),
    _p("uieg", "single_es", ("encode",), "latent", ("denoise", "decode"), "image", (),
       "UE inference, edge generation: seed up, image down"),
    _p("eiug", "single_es", (), "image", ("encode", "denoise"), "latent", ("decode",),
       "edge inference, UE generation: image up, generated latent down, UE decodes"),
    _p("ciag", "single_es", ("encode",), "latent", ("denoise",), "latent", ("decode",),
       "cooperative inference and generation: seed up, seed-to-seed at the ES, latent down"),
    _p("esuc", "single_es", (), "image", GENERATE + ("sketch",), "sketch", ("complete",),
       "edge sketch, UE complete: image up, low-resolution sketch down, UE completes it"),
    _p("uidg", "parallel", ("encode",), "latent", ("denoise", "decode"), "image", ("pick",),
       "seed to K ESs, each generates (own noise seed) and sends its image; the UE picks one"),
    _p("diug", "parallel", (), "image", ("encode", "denoise"), "latent", ("decode", "pick"),
       "task to K ESs, each returns a generated latent; the UE decodes them all and picks one"),
    _p("dsuc", "parallel", (), "image", GENERATE + ("sketch",), "sketch", ("pick", "complete"),
       "task to K ESs, each returns a sketch; the UE picks one and completes it"),
    _p("uidcg", "cooperative", ("encode", "split"), "latent_part", ("denoise",), "latent_part",
       ("merge", "decode"),
       "seed split into K overlapping row strips, ES k denoises strip k, the UE blends and decodes"),
    _p("dcsuc", "cooperative", ("split",), "image_part", GENERATE + ("sketch",), "sketch_part",
       ("merge", "complete"),
       "image split into K overlapping strips, ES k sketches strip k, the UE blends and completes"),
)}
COMBINE_OPS = ("pick", "merge")


def post_stages(protocol: Protocol) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """ue_post as (ops on every reply, combining op or None, ops on the combined value)."""
    ops = protocol.ue_post
    for i, op in enumerate(ops):
        if op in COMBINE_OPS:
            return ops[:i], op, ops[i + 1:]
    return ops, None, ()


# -- wire formats -------------------------------------------------------------------------
# Self-describing payloads, so a receiver needs nothing but the bytes:
#   latent  b"L" fmt(u8) C(u8) h(u16) w(u16) [uint8 only: lo, hi (f32)] values
#   raw     b"I" h(u16) w(u16) RGB uint8 (24 bit per pixel)
#   png     a PNG file (lossless)
LATENT_FORMATS = {"float32": 0, "float16": 1, "uint8": 2}
IMAGE_FORMATS = ("raw", "png")


class PayloadError(ValueError):
    """Bytes that do not parse as the payload they claim to be."""


def pack_latent(z: np.ndarray, fmt: str) -> bytes:
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 3 or z.shape[0] > 255 or max(z.shape[1:]) > 65535:
        raise ValueError(f"latent must be (C <= 255, h, w), got {z.shape}")
    head = b"L" + struct.pack("<BBHH", LATENT_FORMATS[fmt], *z.shape)
    if fmt == "float32":
        return head + z.astype("<f4").tobytes()
    if fmt == "float16":
        return head + z.astype("<f2").tobytes()
    lo, hi = float(z.min()), float(z.max())
    q = np.round((z - lo) / max(hi - lo, 1e-12) * 255.0).astype(np.uint8)
    return head + struct.pack("<ff", lo, hi) + q.tobytes()


def pack_image(image: np.ndarray, fmt: str) -> bytes:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3, got {image.shape}")
    if fmt == "raw":
        return b"I" + struct.pack("<HH", *image.shape[:2]) + image.tobytes()
    if fmt == "png":
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=6)
        return buf.getvalue()
    raise ValueError(f"unknown image format {fmt!r}; use one of {IMAGE_FORMATS}")


def unpack(data: bytes) -> np.ndarray:
    """Latent (float32 C x h x w) or image (uint8 H x W x 3) from its wire bytes."""
    if data[:1] == b"L":
        if len(data) < 7:
            raise PayloadError("latent header truncated")
        code, c, h, w = struct.unpack_from("<BBHH", data, 1)
        n = c * h * w
        body, dtype = data[7:], {0: "<f4", 1: "<f2", 2: np.uint8}.get(code)
        if dtype is None:
            raise PayloadError(f"unknown latent format code {code}")
        if code == 2:
            if len(body) != 8 + n:
                raise PayloadError(f"uint8 latent of {c}x{h}x{w} needs {8 + n} bytes, got {len(body)}")
            lo, hi = struct.unpack_from("<ff", body)
            q = np.frombuffer(body, np.uint8, offset=8).astype(np.float32)
            return (lo + q / 255.0 * (hi - lo)).reshape(c, h, w)
        size = np.dtype(dtype).itemsize * n
        if len(body) != size:
            raise PayloadError(f"latent of {c}x{h}x{w} needs {size} bytes, got {len(body)}")
        return np.frombuffer(body, dtype).astype(np.float32).reshape(c, h, w)
    if data[:1] == b"I":
        if len(data) < 5:
            raise PayloadError("raw image header truncated")
        h, w = struct.unpack_from("<HH", data, 1)
        if len(data) != 5 + h * w * 3:
            raise PayloadError(f"raw image of {h}x{w} needs {5 + h * w * 3} bytes, got {len(data)}")
        return np.frombuffer(data, np.uint8, offset=5).reshape(h, w, 3)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        from PIL import Image
        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - any PIL failure means undecodable bytes
            raise PayloadError(f"PNG undecodable: {exc}") from None
    raise PayloadError(f"unknown payload type {data[:1]!r}")


def pack_like(value: np.ndarray, latent_format: str, image_format: str) -> bytes:
    return pack_image(value, image_format) if value.dtype == np.uint8 else pack_latent(value, latent_format)


# -- the feature channel ------------------------------------------------------------------


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


# -- split and merge (cooperative protocols) -----------------------------------------------


def split_spans(rows: int, parts: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """Row spans [start, stop) of `parts` horizontal strips of a `rows`-row array. Strip k owns
    the core rows [b_k, b_k+1) (boundaries on multiples of `multiple`, as the UNet needs) and
    reaches `overlap` rows into each neighbour, for blending."""
    if parts < 1:
        raise ValueError(f"need at least one part, got {parts}")
    if rows % multiple or overlap % multiple or overlap < 0:
        raise ValueError(f"rows {rows} and overlap {overlap} must be non-negative multiples of {multiple}")
    units = rows // multiple
    if parts > units:
        raise ValueError(f"{rows} rows cannot be split into {parts} strips of multiples of {multiple} rows")
    bounds = [multiple * round(i * units / parts) for i in range(parts + 1)]
    return [(max(0, bounds[i] - overlap), min(rows, bounds[i + 1] + overlap)) for i in range(parts)]


def blend_weights(span: tuple[int, int], rows: int, overlap: int) -> np.ndarray:
    """Per-row weights of one strip: 1 in its core, linear cross-fades over the 2*overlap rows
    shared with a neighbour (the two weights sum to 1 there), 1 up to the array's borders."""
    start, stop = span
    r = np.arange(start, stop, dtype=np.float64) + 0.5
    w = np.ones(stop - start)
    if overlap:
        if start > 0:
            w = np.minimum(w, (r - start) / (2 * overlap))
        if stop < rows:
            w = np.minimum(w, (stop - r) / (2 * overlap))
    return w


def merge_parts(parts: list[np.ndarray], spans: list[tuple[int, int]], rows: int, overlap: int,
                axis: int) -> np.ndarray:
    """Blend strips back into one array along `axis` (rows), with blend_weights. Spans and
    overlap are in the units of the split; a part may be at another resolution (a sketch of a
    strip): its rows are then scale = part rows / span rows times as many."""
    if len(parts) != len(spans) or not parts:
        raise ValueError(f"{len(parts)} parts for {len(spans)} spans")
    scale = parts[0].shape[axis] / (spans[0][1] - spans[0][0])
    for p, (a, b) in zip(parts, spans):
        if p.shape[axis] != round((b - a) * scale) or (b - a) * scale != round((b - a) * scale):
            raise ValueError(f"part of {p.shape[axis]} rows does not fit span [{a}, {b}) at scale {scale:g}")
    if rows * scale != round(rows * scale) or overlap * scale != round(overlap * scale):
        raise ValueError(f"scale {scale:g} does not map {rows} rows / overlap {overlap} onto whole rows")
    out_rows, o = round(rows * scale), round(overlap * scale)
    shape = list(parts[0].shape)
    shape[axis] = out_rows
    acc = np.zeros(shape, np.float64)
    total = np.zeros(out_rows)
    for p, (a, b) in zip(parts, spans):
        a, b = round(a * scale), round(b * scale)
        w = blend_weights((a, b), out_rows, o)
        view = [None] * p.ndim
        view[axis] = slice(None)
        index = [slice(None)] * p.ndim
        index[axis] = slice(a, b)
        acc[tuple(index)] += p.astype(np.float64) * w[tuple(view)]
        total[a:b] += w
    if (total <= 0).any():
        raise ValueError("the spans leave rows uncovered")
    view = [None] * len(shape)
    view[axis] = slice(None)
    merged = acc / total[tuple(view)]
    if parts[0].dtype == np.uint8:
        return np.clip(np.round(merged), 0, 255).astype(np.uint8)
    return merged.astype(np.float32)


def pick_closest(reference: np.ndarray, candidates: list[np.ndarray]) -> int:
    """The UE's pick rule 'closest': the candidate with the lowest pixel MSE to the user's own
    input image (resized to the candidate's size), a stand-in for the user choosing what looks
    most like what they asked for. Ties go to the lower index (the ES listed first)."""
    from PIL import Image

    errors = []
    for c in candidates:
        ref = reference
        if ref.shape != c.shape:
            ref = np.asarray(Image.fromarray(reference).resize((c.shape[1], c.shape[0]), Image.BOX))
        errors.append(float(np.mean((ref.astype(np.float64) - c.astype(np.float64)) ** 2)))
    return int(np.argmin(errors))


# -- the agent's ops ----------------------------------------------------------------------


def _resize(image: np.ndarray, h: int, w: int, resample: str) -> np.ndarray:
    from PIL import Image
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), getattr(Image, resample)))


def _crop_condition(cond, start: int, stop: int, rows: int):
    """The conditioning of a strip of the latent: every 4-d tensor laid out on the latent grid
    (control maps) is cut to rows [start, stop); text embeddings are kept."""
    def crop(v):
        if hasattr(v, "ndim") and v.ndim == 4 and v.shape[-2] == rows:
            return v[..., start:stop, :]
        return v
    if isinstance(cond, dict):
        return {k: crop(v) for k, v in cond.items()}
    if hasattr(cond, "__dataclass_fields__"):
        import dataclasses
        return dataclasses.replace(cond, **{f: crop(getattr(cond, f)) for f in cond.__dataclass_fields__})
    return cond


class MegAgent:
    """One node's part of the split model (agent role "meg"). Each op takes wire payloads and
    returns one; `channel` (one entry per input frame: {"snr_db", "seed"} or null) adds the
    feature channel's noise to frames that arrived over the radio. The reply's `work` says
    what was computed (fractions of a full-image VAE pass, denoising steps on a full latent)
    for the runner's compute model."""

    def __init__(self, options: dict):
        import torch

        from .backends import build

        torch.set_num_threads(int(options.get("threads", 1)))
        torch.manual_seed(int(options.get("seed", 0)))
        self.model = build("split", (options.get("models") or {}).get("split"))
        self._torch = torch
        self._cond_cache: dict = {}
        unet = getattr(self.model, "unet", None)
        levels = len(unet.config.block_out_channels) if unet is not None else 4
        self.row_multiple = 2 ** (levels - 1)   # latent rows of a strip: the UNet halves them
        self.factor = self.latent_factor()

    def latent_factor(self) -> int:
        for size in (64, 128, 256, 512):
            try:
                return size // self.model.latent_shape(size)[1]
            except ValueError:
                continue
        raise ValueError("cannot determine the VAE factor of the split model")

    def handlers(self) -> dict:
        return {op: getattr(self, op) for op in
                ("receive", "encode", "denoise", "decode", "sketch", "complete", "split", "merge", "pick")}

    def info(self) -> dict:
        return {"split": self.model.name, "steps": self.model.num_steps}

    # -- helpers --------------------------------------------------------------------------
    def _inputs(self, header: dict, frames: list[bytes]) -> list[np.ndarray]:
        channel = header.get("channel") or [None] * len(frames)
        if len(channel) != len(frames):
            raise ValueError(f"{len(channel)} channel entries for {len(frames)} frames")
        values = []
        for data, ch in zip(frames, channel):
            v = unpack(data)
            if ch is not None:
                v = awgn(v, ch.get("snr_db"), int(ch["seed"]))
            values.append(v)
        return values

    def _out(self, header: dict, value: np.ndarray) -> bytes:
        return pack_like(value, header.get("latent_format", "float32"), header.get("image_format", "raw"))

    def _condition(self, prompt: str, size: int):
        key = (prompt, size)
        if key not in self._cond_cache:
            self._cond_cache = {key: self.model.condition(prompt, None, None, size)}
        return self._cond_cache[key]

    def _start_step(self, strength: float) -> int:
        n = self.model.num_steps
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        return n - max(1, round(strength * n))

    def _sdedit(self, z0: np.ndarray, prompt: str, size: int, strength: float, seed: int,
                rows: tuple[int, int] | None) -> tuple[np.ndarray, float]:
        """Noise the clean latent (or its strip `rows`) to step k, denoise [k, N); returns the
        latent and the work in denoising steps on a full latent."""
        torch = self._torch
        k = self._start_step(strength)
        full_rows = self.model.latent_shape(size)[1]
        a, b = rows if rows is not None else (0, full_rows)
        if z0.shape[1] != b - a:
            raise ValueError(f"latent of {z0.shape[1]} rows for strip [{a}, {b})")
        # One noise draw for the whole latent, cut to the strip: overlapping strips on different
        # ESs start from the same noise.
        noise = self.model.initial_latent(seed, size)[:, a:b]
        t = torch.as_tensor(self.model.timesteps[k]).reshape(1)
        zt = self.model.scheduler.add_noise(torch.from_numpy(np.ascontiguousarray(z0))[None],
                                            torch.from_numpy(np.ascontiguousarray(noise))[None], t)[0].numpy()
        cond = self._condition(prompt, size)
        if rows is not None:
            cond = _crop_condition(cond, a, b, full_rows)
        return self.model.denoise(zt, cond, k, self.model.num_steps), (self.model.num_steps - k) * (b - a) / full_rows

    # -- ops ------------------------------------------------------------------------------
    def receive(self, header, frames):
        """Nothing but the receiver's side of the feature channel (and re-serialisation)."""
        return {"work": {}}, [self._out(header, v) for v in self._inputs(header, frames)]

    def encode(self, header, frames):
        (image,) = self._inputs(header, frames)
        if image.dtype != np.uint8:
            raise ValueError("encode expects an image payload")
        z = self.model.encode(image)
        size = int(header["size"])
        return {"work": {"encode": image.shape[0] * image.shape[1] / size ** 2}}, [self._out(header, z)]

    def denoise(self, header, frames):
        (z0,) = self._inputs(header, frames)
        if z0.dtype == np.uint8:
            raise ValueError("denoise expects a latent payload")
        rows = tuple(header["rows"]) if header.get("rows") is not None else None
        z, steps = self._sdedit(z0, header.get("prompt", ""), int(header["size"]), float(header["strength"]),
                                int(header["seed"]), rows)
        return {"work": {"denoise_steps": steps}}, [self._out(header, z)]

    def decode(self, header, frames):
        (z,) = self._inputs(header, frames)
        if z.dtype == np.uint8:
            raise ValueError("decode expects a latent payload")
        image = self.model.decode(z)
        full = self.model.latent_shape(int(header["size"]))[1]
        return {"work": {"decode": z.shape[1] * z.shape[2] / full ** 2}}, [self._out(header, image)]

    def sketch(self, header, frames):
        """The ES's preview: its generated image (or strip) box-filtered down by sketch_side / size."""
        (image,) = self._inputs(header, frames)
        scale = int(header["sketch_side"]) / int(header["size"])
        h, w = image.shape[0] * scale, image.shape[1] * scale
        if h != round(h) or w != round(w):
            raise ValueError(f"sketch scale {scale:g} does not map {image.shape[:2]} onto whole pixels")
        return {"work": {}}, [self._out(header, _resize(image, round(h), round(w), "BOX"))]

    def complete(self, header, frames):
        """The UE's completer: the sketch upsampled to full size, re-encoded, noised to the
        completion strength and denoised with the prompt (regeneration from the sketch)."""
        (sketch,) = self._inputs(header, frames)
        size = int(header["size"])
        up = _resize(sketch, size, size, "BICUBIC")
        z0 = self.model.encode(up)
        z, steps = self._sdedit(z0, header.get("prompt", ""), size, float(header["strength"]),
                                int(header["seed"]), None)
        image = self.model.decode(z)
        return ({"work": {"encode": 1.0, "denoise_steps": steps, "decode": 1.0}},
                [self._out(header, image)])

    def split(self, header, frames):
        """The UE cuts its latent (or image) into overlapping row strips, one per ES."""
        (value,) = self._inputs(header, frames)
        size = int(header["size"])
        rows = self.model.latent_shape(size)[1]
        spans = split_spans(rows, int(header["parts"]), int(header["overlap"]), self.row_multiple)
        f = 1 if value.dtype != np.uint8 else self.factor
        if value.shape[1 if value.dtype != np.uint8 else 0] != rows * f:
            raise ValueError(f"split expects a full {size}-px image or its latent")
        parts = [value[:, a:b] if value.dtype != np.uint8 else value[a * f:b * f] for a, b in spans]
        return {"spans": spans, "rows": rows, "work": {}}, [self._out(header, p) for p in parts]

    def merge(self, header, frames):
        """Blend the strips that came back (latents, or sketches of strips) into one."""
        parts = self._inputs(header, frames)
        spans = [tuple(s) for s in header["spans"]]
        axis = 0 if parts[0].dtype == np.uint8 else 1
        merged = merge_parts(parts, spans, int(header["rows"]), int(header["overlap"]), axis)
        return {"work": {}}, [self._out(header, merged)]

    def pick(self, header, frames):
        """frames: the user's own input image, then the candidates; replies the chosen one."""
        reference, *candidates = self._inputs(header, frames)
        if not candidates:
            raise ValueError("pick needs at least one candidate")
        i = pick_closest(reference, candidates)
        return {"index": i, "work": {}}, [self._out(header, candidates[i])]
