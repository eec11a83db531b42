"""LPIPS port: weights vs the official package, outputs vs the official network, properties."""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data, filters

from gensemcom.analysis import lpips as L

torch.set_num_threads(1)
# lpips.LPIPS(pnet_rand=True) still goes through torchvision's deprecated pretrained= argument
pytestmark = pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")
official = pytest.importorskip("lpips")
OFFICIAL_DIR = Path(importlib.util.find_spec("lpips").submodule_search_locations[0])


def _blur(img, sigma):
    return (filters.gaussian(img, sigma=sigma, channel_axis=-1, preserve_range=True)).round().astype(np.uint8)


def _pairs():
    """Real 128x128 crops and distorted versions (noise, blur, another crop)."""
    rng = np.random.default_rng(0)
    astro = data.astronaut()[60:188, 180:308]
    cat = data.chelsea()[80:208, 150:278]
    noisy = np.clip(astro + rng.normal(0, 15, astro.shape), 0, 255).astype(np.uint8)
    a = np.stack([astro, astro, cat, cat])
    b = np.stack([noisy, _blur(astro, 1.5), _blur(cat, 3.0), astro])
    return a, b


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_linear_layers_equal_official(net):
    ref = torch.load(OFFICIAL_DIR / "weights" / "v0.1" / f"{net}.pth", map_location="cpu")
    ours = L.torch_state_dict(net)
    for k in range(5):
        a, b = ours[f"lins.{k}.weight"], ref[f"lin{k}.model.1.weight"]
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-7), (net, k)


@pytest.mark.parametrize("net", ["alex", "vgg"])
@pytest.mark.slow
def test_matches_official_network_with_ported_trunk(net):
    ref = official.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    ours = L.torch_state_dict(net)
    # official trunk keys are slice<k>.<torchvision index>.*, ours features.<index>.*
    ref.net.load_state_dict({k: ours["features." + k.split(".", 1)[1]] for k in ref.net.state_dict()})
    a, b = _pairs()
    with torch.no_grad():
        expected = ref(L._to_tensor(a), L._to_tensor(b)).flatten().numpy()
    got = L.lpips(a, b, net)
    assert got.shape == (4,)
    assert np.all(got > 0.01)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_identity_and_blur_monotone():
    img = data.chelsea()[50:178, 100:228]
    assert L.lpips(img, img)[0] == pytest.approx(0.0, abs=1e-7)
    for net in ("alex", "vgg"):
        scores = [L.lpips_score(img, _blur(img, s), net) for s in (0.7, 1.5, 3.0, 6.0)]
        assert all(x < y for x, y in zip(scores, scores[1:])), (net, scores)


def test_symmetric_and_batched_equals_single():
    a, b = _pairs()
    batched = L.lpips(a, b)
    singles = [L.lpips_score(x, y) for x, y in zip(a, b)]
    np.testing.assert_allclose(batched, singles, atol=1e-6)
    np.testing.assert_allclose(L.lpips(b, a), batched, atol=1e-6)


def test_loss_is_differentiable_and_matches_metric():
    a, b = _pairs()
    loss_fn = L.LPIPSLoss("alex")
    x = (torch.from_numpy(b).permute(0, 3, 1, 2).float() / 255).requires_grad_(True)
    y = torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255
    loss = loss_fn(x, y)
    loss.backward()
    assert loss.item() == pytest.approx(float(L.lpips(b, a).mean()), abs=1e-5)
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss_fn.parameters())
    # one gradient step on the input lowers the loss
    with torch.no_grad():
        x2 = (x - 0.5 * x.grad / x.grad.abs().max()).clamp(0, 1)
    assert loss_fn(x2, y).item() < loss.item()
    loss_fn.train()
    assert not loss_fn.model.training


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"x": np.zeros(2), "f": print}))
    with open(path, "rb") as f, pytest.raises(pickle.UnpicklingError):
        L._NumpyOnlyUnpickler(f).load()
    with open(L.weight_file("alex"), "rb") as f:
        assert "AlexNet_0" in L._NumpyOnlyUnpickler(f).load()


def test_bad_inputs():
    img = data.chelsea()[:64, :64]
    with pytest.raises(ValueError):
        L.lpips(img, img[:32])
    with pytest.raises(ValueError):
        L.lpips(img.astype(np.float32), img)
    with pytest.raises(ValueError):
        L.lpips(img, img, net="squeeze")
    with pytest.raises(ValueError):
        L.lpips(img[:20, :20], img[:20, :20])
