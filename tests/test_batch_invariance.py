"""Batch-invariant kernels (agents/batch_invariance.py): a sample's output is the same bits in
a batch of any size as alone, for the layer shapes of gsc_ldm's UNet (a Linear on one row per
sample, a 32 -> 64 channel convolution on 16 x 16, where MKL and oneDNN otherwise change path)."""

from __future__ import annotations

import torch
from torch import nn

from gensemcom.agents.batch_invariance import RowPaddedLinear, batch_invariant_kernels, make_batch_invariant


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(32, 128), nn.SiLU(), nn.Linear(128, 64))
        self.conv = nn.Conv2d(32, 64, 3, padding=1)

    def forward(self, t, x):
        return self.conv(x) + self.embed(t)[:, :, None, None]


def test_each_sample_of_a_batch_is_computed_as_alone():
    torch.manual_seed(0)
    net = make_batch_invariant(Net().eval())
    assert all(type(m) is RowPaddedLinear for m in net.embed if isinstance(m, nn.Linear))
    t, x = torch.randn(9, 32), torch.randn(9, 32, 16, 16)
    with torch.no_grad(), batch_invariant_kernels():
        alone = [net(t[k:k + 1], x[k:k + 1]) for k in range(9)]
        for size in (2, 3, 5, 9):
            batch = net(t[:size], x[:size])
            for k in range(size):
                assert torch.equal(batch[k:k + 1], alone[k]), (size, k)
    assert torch.backends.mkldnn.enabled   # restored on leaving


def test_a_row_padded_linear_is_the_linear():
    torch.manual_seed(1)
    plain = nn.Linear(16, 8)
    padded = make_batch_invariant(nn.Sequential(nn.Linear(16, 8)))[0]
    padded.load_state_dict(plain.state_dict())
    for shape in ((1, 16), (3, 1, 16), (40, 16), (0, 16)):
        x = torch.randn(*shape)
        assert padded(x).shape == plain(x).shape
        assert torch.allclose(padded(x), plain(x), atol=1e-6)
