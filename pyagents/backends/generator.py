"""Generator role: prompt + conditioning streams -> image."""
from __future__ import annotations

import numpy as np

from .. import ldm
from .split import GscLdmSplit


class HintUpsampleGenerator:
    """Naive baseline at the same transmitted bits: the colour hint upsampled (edges and prompt unused)."""

    name = "hint_upsample"

    def generate(self, prompt: str, edges, hint, seed: int, size: int) -> np.ndarray:
        if hint is None:
            return np.full((size, size, 3), 128, np.uint8)
        return ldm.upsample_hint(np.asarray(hint, dtype=np.uint8), size)


class EdgeFillGenerator:
    """Naive baseline: the upsampled hint with the edge map drawn in, blurred (a 'sketch fill')."""

    name = "edge_fill"

    def generate(self, prompt: str, edges, hint, seed: int, size: int) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        base = HintUpsampleGenerator().generate(prompt, edges, hint, seed, size).astype(np.float32)
        if edges is not None:
            e = gaussian_filter(np.asarray(edges, np.float32), 1.0)[..., None]
            base = base * (1 - 0.6 * np.clip(e * 2, 0, 1))  # edges darken, as lines in a sketch
        return np.clip(base, 0, 255).astype(np.uint8)


def _sd_controlnet(**options):
    from .stable_diffusion import SDControlNetGenerator
    return SDControlNetGenerator(**options)


BACKENDS = {"gsc_ldm": GscLdmSplit, "hint_upsample": HintUpsampleGenerator, "edge_fill": EdgeFillGenerator,
            "sd_controlnet": _sd_controlnet}
DEFAULT = "gsc_ldm"
