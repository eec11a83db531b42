"""The ops one node's agent (role "meg") runs on its part of the split model."""
from __future__ import annotations

import logging

import numpy as np

from .feature_channel import awgn
from .strips import merge_parts, pick_closest, split_spans
from .wire import pack_like, unpack

log = logging.getLogger("gensemcom.agent")

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

        from ..backends import build, model_device, with_device

        torch.set_num_threads(int(options.get("threads", 1)))
        torch.manual_seed(int(options.get("seed", 0)))
        spec = with_device("split", (options.get("models") or {}).get("split"), options.get("device", "auto"))
        self.model = build("split", spec)
        log.info("split: %s on %s", self.model.name, model_device(self.model))
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
