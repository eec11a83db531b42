"""Batch-invariant kernels: a sample's result does not depend on the batch it is computed in.

A batched forward pass is not bit-identical to one sample at a time on CPU, for two reasons
(measured on gsc_ldm's UNet, torch 2.14 + MKL): MKL's GEMM takes another code path for fewer
than 4 rows (a Linear on the time embedding or the single text token has one row per sample),
and oneDNN picks another convolution algorithm for another batch size. Differences of ~1e-6
become a few pixels one level off after uint8 rounding, so a PNG changes size and the downlink's
packets change with the batch. Two rules make every sample's arithmetic the same in any batch:

- Linear layers see at least MIN_ROWS rows (zero rows padded, then dropped): one GEMM path.
- Convolutions run on ATen's native kernel (oneDNN off), which convolves sample by sample.

Measured cost on gsc_ldm's denoising loop: none unbatched, batches of 8 about 20 % slower
than with oneDNN (still faster than one at a time). On CUDA the rules are not enough (cuDNN
also picks kernels per batch size); there batched images are only close, not identical.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

MIN_ROWS = 16


class RowPaddedLinear(nn.Linear):
    """nn.Linear whose GEMM always has at least MIN_ROWS rows (module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1] if x.numel() else 0
        if rows == 0 or rows >= MIN_ROWS:
            return super().forward(x)
        flat = x.reshape(rows, x.shape[-1])
        padded = torch.cat([flat, flat.new_zeros(MIN_ROWS - rows, flat.shape[1])])
        return super().forward(padded)[:rows].reshape(*x.shape[:-1], self.out_features)


def make_batch_invariant(module: nn.Module) -> nn.Module:
    """Every plain nn.Linear inside module becomes a RowPaddedLinear (same weights, in place)."""
    for sub in module.modules():
        if type(sub) is nn.Linear:
            sub.__class__ = RowPaddedLinear
    return module


@contextlib.contextmanager
def batch_invariant_kernels():
    """Within: convolutions on ATen's per-sample kernel instead of oneDNN (module docstring)."""
    # Only this flag: mkldnn.flags() would also set TF32 and warn about it on every call.
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled
