"""Pretrained Stable Diffusion backends (SD 1.x / 2.x checkpoints in diffusers layout).

``SDControlNetGenerator`` (role ``generator``) runs the stock diffusers ControlNet pipeline;
``SDSplitModel`` (role ``split``) loads the same parts separately and writes the DDIM loop out,
so that ``denoise(x, c, 0, k)`` followed by ``denoise(., c, k, N)`` equals ``denoise(x, c, 0, N)``
bit for bit: the latent between steps is float32 and each step depends only on its index.
Both use DDIM (eta = 0) with classifier-free guidance; in float32 on the CPU they give the
same image for the same seed (on CUDA the generator draws its noise there, and the pipeline
keeps latents in the model dtype).

``model`` / ``controlnet`` are HF hub ids (e.g. ``"runwayml/stable-diffusion-v1-5"``,
``"lllyasviel/sd-controlnet-scribble"``) or local ``save_pretrained`` directories.
Hub ids need network access or the HF cache; with ``HF_HUB_OFFLINE=1`` only the cache is used.
diffusers / transformers are imported in the constructors, so importing this module is cheap.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import BackendError, check_rgb
from .device import model_dtype, resolve_device

_DTYPES = ("float32", "float16", "bfloat16")


def _device_dtype(device: str, dtype: str):
    """The device (device.resolve_device) and dtype: 'auto' = device.model_dtype there."""
    import torch

    device = resolve_device(device)
    if dtype == "auto":
        return device, model_dtype(device)
    if dtype not in _DTYPES:
        raise BackendError(f"dtype must be 'auto' or one of {_DTYPES}, got {dtype!r}")
    return device, getattr(torch, dtype)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _load(cls, source: str, what: str, **kwargs):
    """``cls.from_pretrained(source, ...)``, turning load failures into a BackendError that says
    what could not be loaded from where."""
    looks_local = os.path.isabs(source) or source.startswith((".", "~")) or source.count("/") > 1
    if looks_local and not os.path.isdir(os.path.expanduser(source)):
        raise BackendError(f"cannot load {what}: no directory {source!r}")
    try:
        # Read at call time: huggingface_hub reads HF_HUB_OFFLINE only once, at import.
        return cls.from_pretrained(os.path.expanduser(source), local_files_only=_offline(), **kwargs)
    except (OSError, ValueError) as exc:  # missing files / repo (OSError), bad repo id (ValueError)
        hint = ("HF_HUB_OFFLINE is set, so only the local HF cache is searched" if _offline()
                else "a hub id needs network access or the model in the local HF cache")
        raise BackendError(f"cannot load {what} from {source!r} ({hint}): {exc}") from exc


def _control_image(edges: np.ndarray, size: int):
    """Bool edge map -> white-on-black RGB PIL image at size x size (HED / scribble ControlNets).
    Bilinear resizing keeps thin edges visible as grey, like HED's soft edges."""
    from PIL import Image

    edges = np.asarray(edges)
    if edges.ndim != 2:
        raise ValueError(f"expected HxW edge map, got shape {edges.shape}")
    image = Image.fromarray(np.where(edges > 0, 255, 0).astype(np.uint8))
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return image.convert("RGB")


def _to_uint8(image01: np.ndarray) -> np.ndarray:
    return (np.clip(image01, 0.0, 1.0) * 255.0).round().astype(np.uint8)


class SDControlNetGenerator:
    """Prompt + edge map -> image with ``StableDiffusionControlNetPipeline``.

    The edge map is the control image; without one the ControlNet's residuals are scaled by 0
    (plain text-to-image). The colour ``hint`` is ignored unless ``hint_strength`` > 0: then the
    hint, upscaled to ``size``, is the img2img start image (strength = hint_strength; 1.0 would
    discard it), which keeps the thumbnail's colours.
    A safety checker that ships with the checkpoint is kept; a missing one is fine.
    """

    name = "sd_controlnet"

    def __init__(self, model: str, controlnet: str, steps: int = 20, guidance_scale: float = 7.5,
                 device: str = "auto", dtype: str = "auto", negative_prompt: str = "",
                 hint_strength: float = 0.0):
        from diffusers import (ControlNetModel, DDIMScheduler, StableDiffusionControlNetImg2ImgPipeline,
                               StableDiffusionControlNetPipeline)

        if steps < 1 or not 0.0 <= hint_strength <= 1.0:
            raise BackendError(f"need steps >= 1 and 0 <= hint_strength <= 1, got {steps}, {hint_strength}")
        self.device, self.dtype = _device_dtype(device, dtype)
        self.steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.negative_prompt, self.hint_strength = negative_prompt, float(hint_strength)
        net = _load(ControlNetModel, controlnet, "ControlNet", dtype=self.dtype)
        pipe = _load(StableDiffusionControlNetPipeline, model, "Stable Diffusion pipeline", controlnet=net,
                     dtype=self.dtype, requires_safety_checker=False)
        # DDIM, as in SDSplitModel, so the generator and the split model sample alike.
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        self.pipe = pipe.to(self.device)
        self.img2img = StableDiffusionControlNetImg2ImgPipeline(  # shares the modules
            **self.pipe.components, requires_safety_checker=False)
        for p in (self.pipe, self.img2img):
            p.set_progress_bar_config(disable=True)

    def generate(self, prompt: str, edges: np.ndarray | None, hint: np.ndarray | None,
                 seed: int, size: int) -> np.ndarray:
        import torch
        from PIL import Image

        control = _control_image(edges if edges is not None else np.zeros((size, size), bool), size)
        args: dict[str, Any] = dict(
            prompt=prompt, negative_prompt=self.negative_prompt or None, num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale, height=size, width=size, eta=0.0, output_type="np",
            controlnet_conditioning_scale=1.0 if edges is not None else 0.0,
            generator=torch.Generator(self.device).manual_seed(int(seed)))
        if hint is not None and self.hint_strength > 0:
            init = Image.fromarray(check_rgb(hint)).resize((size, size), Image.BICUBIC)
            out = self.img2img(image=init, control_image=control, strength=self.hint_strength, **args)
        else:
            out = self.pipe(image=control, **args)
        return _to_uint8(out.images[0])


@dataclass(frozen=True)
class SDCondition:
    """What denoise needs besides the latent; the batch is [uncond, cond] under guidance."""
    embeddings: Any        # torch (B, tokens, dim) text embeddings
    control: Any | None    # torch (B, 3, size, size) control image in [0, 1], or None


class SDSplitModel:
    """Stable Diffusion split into VAE encoder / DDIM denoising steps / VAE decoder.

    ``denoise`` runs steps [start, stop) of one fixed ``steps``-step DDIM schedule (eta = 0, so
    deterministic) with classifier-free guidance and, when ``controlnet`` is given and the
    condition has an edge map, ControlNet residuals. The colour hint is not used.
    ``initial_latent`` draws its noise on the CPU so every node and device gets the same noise.
    """

    name = "sd_split"

    def __init__(self, model: str, steps: int = 20, guidance_scale: float = 7.5, device: str = "auto",
                 dtype: str = "auto", controlnet: str | None = None, negative_prompt: str = ""):
        from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        if steps < 1:
            raise BackendError(f"need steps >= 1, got {steps}")
        self.device, self.dtype = _device_dtype(device, dtype)
        self.num_steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.negative_prompt = negative_prompt
        what = f"Stable Diffusion {{}} ({model!r}/{{}})"
        self.vae = _load(AutoencoderKL, model, what.format("VAE", "vae"), subfolder="vae", dtype=self.dtype)
        self.unet = _load(UNet2DConditionModel, model, what.format("UNet", "unet"), subfolder="unet",
                          dtype=self.dtype)
        self.text_encoder = _load(CLIPTextModel, model, what.format("text encoder", "text_encoder"),
                                  subfolder="text_encoder", dtype=self.dtype)
        self.tokenizer = _load(CLIPTokenizer, model, what.format("tokenizer", "tokenizer"), subfolder="tokenizer")
        self.scheduler = _load(DDIMScheduler, model, what.format("scheduler", "scheduler"), subfolder="scheduler")
        self.controlnet = (None if controlnet is None else
                           _load(ControlNetModel, controlnet, "ControlNet", dtype=self.dtype))
        for module in (self.vae, self.unet, self.text_encoder, self.controlnet):
            if module is not None:
                module.to(self.device).eval()
        # Set once: step i always has timestep timesteps[i], whichever node runs it.
        self.scheduler.set_timesteps(self.num_steps)
        self.timesteps = self.scheduler.timesteps.tolist()
        self.scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def _guided(self) -> bool:
        return self.guidance_scale > 1.0

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        if size % self.scale_factor:
            raise ValueError(f"size {size} is not a multiple of the VAE scale factor {self.scale_factor}")
        return (self.vae.config.latent_channels, size // self.scale_factor, size // self.scale_factor)

    def condition(self, prompt: str, edges: np.ndarray | None, hint: np.ndarray | None, size: int) -> SDCondition:
        import torch

        texts = [self.negative_prompt, prompt] if self._guided else [prompt]
        length = min(self.tokenizer.model_max_length, self.text_encoder.config.max_position_embeddings)
        ids = self.tokenizer(texts, padding="max_length", max_length=length, truncation=True,
                             return_tensors="pt").input_ids.to(self.device)
        with torch.inference_mode():
            embeddings = self.text_encoder(ids)[0]
        control = None
        if self.controlnet is not None and edges is not None:
            image = np.asarray(_control_image(edges, size), np.float32) / 255.0
            control = torch.from_numpy(image).permute(2, 0, 1)[None].repeat(len(texts), 1, 1, 1)
            control = control.to(self.device, self.dtype)
        return SDCondition(embeddings, control)

    def initial_latent(self, seed: int, size: int) -> np.ndarray:
        import torch

        noise = torch.randn(self.latent_shape(size), generator=torch.Generator("cpu").manual_seed(int(seed)))
        return (noise * self.scheduler.init_noise_sigma).numpy().astype(np.float32)

    def encode(self, image: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(check_rgb(image).astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            mean = self.vae.encode(x.to(self.device, self.dtype)).latent_dist.mean
        return (mean[0].float() * self.vae.config.scaling_factor).cpu().numpy()

    def denoise(self, latent: np.ndarray, cond: SDCondition, start: int, stop: int) -> np.ndarray:
        import torch

        if not 0 <= start <= stop <= self.num_steps:
            raise ValueError(f"need 0 <= start <= stop <= {self.num_steps}, got [{start}, {stop})")
        # The latent stays float32 between steps (models run in self.dtype), so a split at any
        # step boundary, through a float32 array, changes nothing.
        x = torch.tensor(np.asarray(latent, np.float32), device=self.device)[None]  # a copy: input may be read-only
        batch = cond.embeddings.shape[0]
        with torch.inference_mode():
            for t in self.timesteps[start:stop]:
                inp = self.scheduler.scale_model_input(x, t).to(self.dtype).repeat(batch, 1, 1, 1)
                residuals = {}
                if self.controlnet is not None and cond.control is not None:
                    down, mid = self.controlnet(inp, t, encoder_hidden_states=cond.embeddings,
                                                controlnet_cond=cond.control, return_dict=False)
                    residuals = dict(down_block_additional_residuals=down, mid_block_additional_residual=mid)
                eps = self.unet(inp, t, encoder_hidden_states=cond.embeddings, return_dict=False,
                                **residuals)[0].float()
                if self._guided:
                    uncond, text = eps.chunk(2)
                    eps = uncond + self.guidance_scale * (text - uncond)
                x = self.scheduler.step(eps, t, x, eta=0.0, return_dict=False)[0]
        return x[0].cpu().numpy()

    def decode(self, latent: np.ndarray, cond=None) -> np.ndarray:
        import torch

        z = torch.tensor(np.asarray(latent, np.float32))[None] / self.vae.config.scaling_factor
        with torch.inference_mode():
            image = self.vae.decode(z.to(self.device, self.dtype), return_dict=False)[0]
        return _to_uint8(image[0].float().permute(1, 2, 0).cpu().numpy() / 2.0 + 0.5)
