"""torch on one thread for a block: float sums then add up in the same order whatever the
process's share of the cores, so a result does not depend on where it was computed (a sweep's
point in a worker or in the sweep's own process). The previous thread count comes back after."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
