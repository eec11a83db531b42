"""The gsc_ldm pixel-space refiner: identity before training, saved and loaded as safetensors,
used by decode() only when the conditioning is given."""
from __future__ import annotations

import shutil

import numpy as np
import torch

from gensemcom.agents import ldm


def test_untrained_refiner_is_the_identity_and_sees_every_input():
    torch.manual_seed(0)
    r = ldm.build_refiner((8, 16, 16))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    edges = np.random.default_rng(0).random((2, 32, 32)) < 0.1
    hint_up = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    inp = ldm.refiner_input(x, edges, hint_up)
    assert inp.shape == (2, 7, 32, 32)
    assert torch.equal(inp[:, 3], torch.from_numpy(edges).float() * 2 - 1)
    assert torch.equal(r(inp), x)
    # Absent streams are zeros, as in training.
    assert torch.count_nonzero(ldm.refiner_input(x, None, None)[:, 3:]) == 0
    # Once its last layer is not zero, the output depends on the edge channel.
    torch.nn.init.normal_(r.out.weight, std=0.1)
    changed = inp.clone()
    changed[:, 3] = -changed[:, 3]
    assert not torch.allclose(r(inp), r(changed))


def test_refiner_round_trips_and_decode_uses_it_only_with_cond(tmp_path):
    from gensemcom.agents.backends.split import GscLdmSplit

    root = tmp_path / "model"
    shutil.copytree(ldm.WEIGHTS_DIR, root, ignore=shutil.ignore_patterns("refiner"))
    plain = GscLdmSplit(path=str(root))
    assert ldm.load_refiner(root) is None and plain.refiner is None
    r = ldm.build_refiner((8, 8, 8))
    torch.nn.init.constant_(r.out.bias, 0.5)  # brightens every pixel
    ldm.save_refiner(root, r)
    loaded = ldm.load_refiner(root)
    assert all(torch.equal(a, b) for a, b in zip(r.state_dict().values(), loaded.state_dict().values()))

    model = GscLdmSplit(path=str(root))
    img = np.full((32, 32, 3), 100, np.uint8)
    edges = np.zeros((32, 32), bool)
    cond = model.condition("a photo", edges, ldm.make_hint(img), 32)
    latent = model.encode(img)
    without, with_cond = model.decode(latent), model.decode(latent, cond)
    assert np.array_equal(without, plain.decode(latent))
    assert with_cond.astype(int).mean() > without.astype(int).mean() + 30
    assert np.array_equal(GscLdmSplit(path=str(root), refine=False).decode(latent, cond), without)
