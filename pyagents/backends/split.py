"""Split model role: encoder / denoiser steps / decoder that can run on different nodes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import ldm
from ..batch_invariance import batch_invariant_kernels, make_batch_invariant
from .base import BackendError, check_rgb
from .device import model_dtype, place, resolve_device


class GscLdmSplit:
    """The project's small latent diffusion model (pyagents/ldm.py) with an explicit DDIM loop.

    denoise(start, stop) runs steps [start, stop) of one fixed schedule of `steps` steps, so
    running [0, k) on one node and [k, steps) on another equals running [0, steps) on one.
    guidance_scale 3 (classifier-free guidance against the all-streams-dropped model) gave the
    lowest held-out LPIPS of {1, 2, 3, 4} at 8 steps; larger values trade PSNR for little LPIPS.
    decode(latent, cond) runs the pixel-space refiner (ldm.py) when the model has one and the
    conditioning is given; decode(latent) is the plain VAE decoder (refine=False forces that).
    The networks run on `device` (float16 on CUDA); latents and conditioning stay float32 on the
    CPU between calls (the UNet and refiner are device.place'd, the VAE is moved by hand).
    """

    name = "gsc_ldm"

    def __init__(self, path: str | None = None, steps: int = 8, guidance_scale: float = 3.0,
                 threads: int | None = None, refine: bool = True, device: str = "auto"):
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel

        from .text import MiniLMTextEncoder

        root = Path(path) if path else ldm.WEIGHTS_DIR
        if not (root / "unet").is_dir() or not (root / "vae").is_dir():
            raise BackendError(f"no trained gsc_ldm model in {root} (vae/ and unet/ expected); train it with "
                               "python -m gensemcom.agents.train_generator vae|data|unet")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = resolve_device(device)
        self.dtype = model_dtype(self.device)
        self.cfg = ldm.load_config(root)
        self.vae = AutoencoderKL.from_pretrained(root / "vae").eval().to(self.device, self.dtype)
        # Batch-invariant (batch_invariance.py): a batched image is the unbatched one, bit for bit.
        unet = make_batch_invariant(UNet2DConditionModel.from_pretrained(root / "unet").eval())
        self.unet = place(unet, self.device, self.dtype)
        self.refiner = ldm.load_refiner(root) if refine else None
        if self.refiner is not None:
            self.refiner = place(self.refiner, self.device, self.dtype)
        self.scheduler = ldm.build_scheduler(self.cfg)
        self.scheduler.set_timesteps(int(steps))
        self.timesteps = self.scheduler.timesteps.clone()
        self.num_steps = int(steps)
        self.guidance_scale = float(guidance_scale)
        self.text = MiniLMTextEncoder(device=str(self.device))
        self._torch = torch

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        if size % self.cfg.factor:
            raise ValueError(f"size {size} is not a multiple of the VAE factor {self.cfg.factor}")
        s = size // self.cfg.factor
        return (self.cfg.latent_channels, s, s)

    def condition(self, prompt: str, edges, hint, size: int):
        torch = self._torch
        self.latent_shape(size)
        if edges is not None and np.asarray(edges).shape != (size, size):
            raise ValueError(f"edge map {np.asarray(edges).shape} does not match size {size}")
        text = torch.from_numpy(self.text.encode([prompt or ""]))[:, None]
        control = ldm.control_tensor(edges, hint, size, self.cfg)
        return {"text": text, "control": control, "edges": edges,
                "hint_up": None if hint is None else ldm.upsample_hint(np.asarray(hint, np.uint8), size)}

    def initial_latent(self, seed: int, size: int) -> np.ndarray:
        rng = np.random.default_rng(int(seed))
        return rng.standard_normal(self.latent_shape(size), dtype=np.float32)

    def encode(self, image: np.ndarray) -> np.ndarray:
        torch = self._torch
        x = torch.from_numpy(check_rgb(image).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            z = self.vae.encode(x.to(self.device, self.dtype)).latent_dist.mean.float().cpu() * self.cfg.scaling_factor
        return z[0].numpy()

    def denoise(self, latent: np.ndarray, cond, start: int, stop: int) -> np.ndarray:
        torch = self._torch
        if not 0 <= start <= stop <= self.num_steps:
            raise ValueError(f"step range [{start}, {stop}) outside [0, {self.num_steps}]")
        z = torch.from_numpy(np.asarray(latent, dtype=np.float32).copy())[None]
        with torch.no_grad():
            for i in range(start, stop):
                t = self.timesteps[i]
                x0 = self._predict(z, t, cond)
                z = self.scheduler.step(x0, t, z).prev_sample
        return z[0].numpy()

    def _predict(self, z, t, cond):
        with batch_invariant_kernels():
            return self._guided_unet(z, t, cond)

    def _guided_unet(self, z, t, cond):
        torch = self._torch
        x0 = self.unet(torch.cat([z, cond["control"]], 1), t, encoder_hidden_states=cond["text"]).sample
        if self.guidance_scale != 1.0:
            # Classifier-free guidance against the model with every stream dropped (trained so).
            blank = self.unet(torch.cat([z, torch.zeros_like(cond["control"])], 1), t,
                              encoder_hidden_states=torch.zeros_like(cond["text"])).sample
            x0 = blank + self.guidance_scale * (x0 - blank)
        return x0

    def decode(self, latent: np.ndarray, cond=None) -> np.ndarray:
        torch = self._torch
        z = torch.from_numpy(np.asarray(latent, dtype=np.float32).copy())[None] / self.cfg.scaling_factor
        with torch.no_grad():
            x = self.vae.decode(z.to(self.device, self.dtype)).sample.float().cpu()
            if self.refiner is not None and cond is not None:
                x = self.refiner(ldm.refiner_input(x, cond["edges"], cond["hint_up"]))
        return ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()

    def generate(self, prompt: str, edges, hint, seed: int, size: int) -> np.ndarray:
        cond = self.condition(prompt, edges, hint, size)
        return self.decode(self.denoise(self.initial_latent(seed, size), cond, 0, self.num_steps), cond)

    def generate_batch(self, jobs: list[tuple]) -> list[np.ndarray]:
        """generate() of each (prompt, edges, hint, seed, size), the denoising loop run on the
        whole batch (one UNet call per step). Each item starts from its own seed's noise and the
        UNet's kernels are batch-invariant, so its image is the one generate() gives, bit for bit."""
        if len(jobs) < 2 or len({job[4] for job in jobs}) > 1:
            return [self.generate(*job) for job in jobs]
        torch = self._torch
        conds = [self.condition(prompt, edges, hint, size) for prompt, edges, hint, _, size in jobs]
        z = torch.from_numpy(np.stack([self.initial_latent(job[3], job[4]) for job in jobs]))
        batch = {"text": torch.cat([c["text"] for c in conds]), "control": torch.cat([c["control"] for c in conds])}
        with torch.no_grad():
            for i in range(self.num_steps):
                t = self.timesteps[i]
                z = self.scheduler.step(self._predict(z, t, batch), t, z).prev_sample
        return [self.decode(z[k].numpy(), cond) for k, cond in enumerate(conds)]


def _sd_split(**options):
    from .stable_diffusion import SDSplitModel
    return SDSplitModel(**options)


BACKENDS = {"gsc_ldm": GscLdmSplit, "sd_split": _sd_split}
DEFAULT = "gsc_ldm"
