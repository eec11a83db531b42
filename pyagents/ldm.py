"""The project's small latent diffusion model (offline default generator and split model).

Parts, all diffusers modules so the same code loads a bigger trained model by path:
    vae   AutoencoderKL, 4x downsampling, 4 latent channels (128 px -> 4 x 32 x 32)
    unet  UNet2DConditionModel predicting the clean latent x0 ("sample" prediction) from the
          noisy latent concatenated with control channels, cross-attending to one text token
    text  MiniLM sentence embedding of the prompt (384-d), the single cross-attention token

Control channels (what the conditioning streams carry), at latent resolution:
    edges  the bool edge map at image resolution, space-to-depth by the VAE factor (16 ch)
    hint   a tiny colour thumbnail (HINT_SIDE x HINT_SIDE RGB), bilinearly upsampled (3 ch)
A missing stream is all zeros (the model is trained with random stream dropout), so the
generator degrades gracefully when a stream is lost.

    refiner  an optional pixel-space stage after the VAE decoder (refiner/ next to vae/, unet/):
          a small convolutional U-Net that sees the decoded sample together with the received
          edge map and the upsampled hint at full resolution and adds a correction. The 4x
          latent grid cannot place 1-px edges exactly; the refiner puts the received structure
          back where it was (trained with LPIPS + L1 on the generator's own samples).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights" / "gsc_ldm"
HINT_SIDE = 8
TEXT_DIM = 384


@dataclass(frozen=True)
class LdmConfig:
    vae_channels: tuple[int, ...] = (16, 32, 64)
    unet_channels: tuple[int, ...] = (32, 64, 128)
    latent_channels: int = 4
    text_dim: int = TEXT_DIM
    hint_side: int = HINT_SIDE
    train_steps: int = 1000       # DDPM noise schedule length
    scaling_factor: float = 1.0   # latent scale (1 / std of training latents), set after VAE training

    @property
    def factor(self) -> int:
        return 2 ** (len(self.vae_channels) - 1)

    @property
    def control_channels(self) -> int:
        return self.factor ** 2 + 3


def build_vae(cfg: LdmConfig):
    from diffusers import AutoencoderKL
    n = len(cfg.vae_channels)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=cfg.vae_channels,
                         layers_per_block=1, latent_channels=cfg.latent_channels,
                         norm_num_groups=8, mid_block_add_attention=False)


def build_unet(cfg: LdmConfig):
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel(
        in_channels=cfg.latent_channels + cfg.control_channels, out_channels=cfg.latent_channels,
        block_out_channels=cfg.unet_channels, layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cfg.text_dim, attention_head_dim=8, norm_num_groups=8)


def build_scheduler(cfg: LdmConfig):
    from diffusers import DDIMScheduler
    return DDIMScheduler(num_train_timesteps=cfg.train_steps, beta_schedule="scaled_linear",
                         beta_start=0.00085, beta_end=0.012, prediction_type="sample",
                         clip_sample=False, set_alpha_to_one=True, steps_offset=0)


def make_hint(image: np.ndarray, side: int = HINT_SIDE) -> np.ndarray:
    """The colour thumbnail sent as the hint stream (uint8 side x side x 3, box-filtered)."""
    return np.asarray(Image.fromarray(image).resize((side, side), Image.BOX))


def upsample_hint(hint: np.ndarray, size: int) -> np.ndarray:
    """The naive baseline: the hint bicubically upsampled to the image size."""
    return np.asarray(Image.fromarray(hint).resize((size, size), Image.BICUBIC))


def control_tensor(edges, hint, size: int, cfg: LdmConfig):
    """(B, control_channels, size/f, size/f) float tensor from batches of edges/hints (None = absent)."""
    import torch
    import torch.nn.functional as F
    f, s = cfg.factor, size // cfg.factor
    if edges is None:
        e = torch.zeros(1, f * f, s, s)
    else:
        e = torch.as_tensor(np.asarray(edges, dtype=np.float32)).reshape(-1, 1, size, size)
        e = F.pixel_unshuffle(e * 2 - 1, f)
    if hint is None:
        h = torch.zeros(1, 3, s, s)
    else:
        h = torch.as_tensor(np.asarray(hint, dtype=np.float32)).reshape(-1, cfg.hint_side, cfg.hint_side, 3)
        h = F.interpolate(h.permute(0, 3, 1, 2) / 127.5 - 1, size=(s, s), mode="bilinear", align_corners=False)
    b = max(e.shape[0], h.shape[0])
    return torch.cat([e.expand(b, -1, -1, -1), h.expand(b, -1, -1, -1)], dim=1)


REFINER_INPUTS = 7  # decoded RGB, edge map, upsampled hint RGB


def build_refiner(channels: tuple[int, ...] = (16, 32, 64)):
    """The pixel-space refiner (see the module docstring); its last layer starts at zero, so an
    untrained refiner is the identity."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, ch: int):
            super().__init__()
            self.a, self.b = nn.Conv2d(ch, ch, 3, padding=1), nn.Conv2d(ch, ch, 3, padding=1)

        def forward(self, x):
            return x + self.b(F.silu(self.a(F.silu(x))))

    class Refiner(nn.Module):
        def __init__(self):
            super().__init__()
            c = list(channels)
            self.channels = tuple(c)
            self.inp = nn.Conv2d(REFINER_INPUTS, c[0], 3, padding=1)
            self.down = nn.ModuleList(nn.Conv2d(a, b, 4, stride=2, padding=1) for a, b in zip(c, c[1:]))
            self.enc = nn.ModuleList(Block(ch) for ch in c)
            self.mid = Block(c[-1])
            self.up = nn.ModuleList(nn.Conv2d(b + a, a, 3, padding=1) for a, b in zip(c, c[1:]))
            self.dec = nn.ModuleList(Block(ch) for ch in c[:-1])
            self.out = nn.Conv2d(c[0], 3, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, x):
            h = self.enc[0](self.inp(x))
            skips = [h]
            for down, enc in zip(self.down, self.enc[1:]):
                h = enc(down(F.silu(h)))
                skips.append(h)
            h = self.mid(skips.pop())
            for up, dec in zip(reversed(self.up), reversed(self.dec)):
                skip = skips.pop()
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
                h = dec(up(torch.cat([h, skip], 1)))
            return x[:, :3] + self.out(F.silu(h))

    return Refiner()


def refiner_input(decoded, edges, hint_up):
    """(B, 7, H, W) refiner input: decoded (B,3,H,W) in [-1, 1], edges (B,H,W) bool or None,
    hint_up (B,H,W,3) uint8 or None; an absent stream is zeros, as in training."""
    import torch
    b, _, h, w = decoded.shape
    e = (torch.zeros(b, 1, h, w) if edges is None
         else torch.as_tensor(np.asarray(edges, dtype=np.float32)).reshape(b, 1, h, w) * 2 - 1)
    u = (torch.zeros(b, 3, h, w) if hint_up is None
         else torch.as_tensor(np.asarray(hint_up, dtype=np.float32)).reshape(b, h, w, 3).permute(0, 3, 1, 2) / 127.5 - 1)
    return torch.cat([decoded, e, u], 1)


def save_refiner(out_dir: Path, refiner) -> None:
    from safetensors.torch import save_file
    d = Path(out_dir) / "refiner"
    d.mkdir(parents=True, exist_ok=True)
    save_file(refiner.state_dict(), d / "refiner.safetensors")
    (d / "config.json").write_text(json.dumps({"channels": list(refiner.channels)}) + "\n")


def load_refiner(out_dir: Path):
    """The trained refiner in out_dir/refiner, or None when there is none."""
    d = Path(out_dir) / "refiner"
    if not (d / "refiner.safetensors").exists():
        return None
    from safetensors.torch import load_file
    refiner = build_refiner(tuple(json.loads((d / "config.json").read_text())["channels"]))
    refiner.load_state_dict(load_file(d / "refiner.safetensors"))
    return refiner.eval()


def save(out_dir: Path, cfg: LdmConfig, vae=None, unet=None, meta: dict | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ldm_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    if vae is not None:
        vae.save_pretrained(out_dir / "vae")
    if unet is not None:
        unet.save_pretrained(out_dir / "unet")
    if meta is not None:
        path = out_dir / "training.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**old, **meta}, indent=2) + "\n")


def load_config(path: Path) -> LdmConfig:
    raw = json.loads((Path(path) / "ldm_config.json").read_text())
    raw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return LdmConfig(**raw)
