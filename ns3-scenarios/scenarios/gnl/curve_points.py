"""The measured points of the generative network layer's rate-quality curves (paper
generative-network-layer.md, Section IV-V: Figs. 2-4), with the configured models; fitted and
optimised by analysis.gnl_curves.

Curves (x: prompt size in bpp, every byte sent counted; y: normalised distortion delta_D or
perception delta_P, 0 = the original):
    pe        prompt extension: the learned codec's three rate points, made continuous by the fit
    ps_<rate> pixel swapping on the <rate> codec: L_c = L_p + gamma L (+ the PS header)
    hybrid_<rate> hybrid prompting (paper Section II) on the <rate> codec: the latent plus the
              original downsampled by a factor (agents.hybrid), whose low-pass band replaces the
              generated one; x = latent + reduced payload (+ its header); first point: the codec
              alone (factor "infinite")
    implicit  implicit prompting (paper Section II): camera-pan sequences made from each image
              of cfg.images (agents.implicit.pan_sequence); frame i reaches g iff i % k == 0
              (sent raw), g predicts the others from the frames received before them (global-
              motion extrapolation, not a generative video model); x = 24 bpp x received / all
              frames (= 24 / k when k divides the length); delta_D = mean over ALL frames
    jpeg      JPEG's quality sweep (its "prompt extension")
    jpeg_ps   pixel swapping on JPEG at one quality
Exact end points, not measured: pe and jpeg reach (L = 24 bpp, 0) when the prompt is the image
itself (paper: "the BPP of the true images ... where the FID is 0"); a PS curve reaches 0 at
gamma = 1, every pixel being the original; a hybrid curve at factor 1 (the reduced version is
the original, at latent + 24 bpp + header); implicit at k = 1 (every frame sent, 24 bpp).

The implicit curve is measured on a DIFFERENT set: its FID compares all frames of the pan
sequences (received and predicted) with the original frames, not the image set + crops of the
other curves (column `fid_set` of the points table: "images" or "pan frames"; `n_images` is the
number of frames there), and its delta_P is normalised by the same PE fit as the others. Its
delta_D (per-image normalised MSE, averaged) is comparable in kind, its delta_P only loosely.

delta_D is the mean MSE normalised by the colour-inverted image (analysis.metrics). delta_P is
FID normalised as the paper does: by the PE fit of the raw FID at 0 bpp. (FID / FID of the
inverted set, metrics.normalised_fid, exceeds 1 for our blurry low-rate codec, which would
make the weight w meaningless; it is kept in the points table as `fid_vs_inverted`.)
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import metrics
from gensemcom.analysis.gnl_curves import RAW_BPP


def pan_frames(cfg) -> np.ndarray:
    """The implicit curve's data: one pan sequence (gnl_sweep.implicit_frames frames of
    images.size, moving implicit_step px per frame) over each image of cfg.images, the image
    centre-cropped and resized to just cover the pan (as large as the other curves' images
    plus the travel), concatenated: (n_images x n_frames, size, size, 3)."""
    from gensemcom.agents import implicit as im

    sw = cfg.gnl_sweep
    return np.concatenate([im.image_pan(name, sw.implicit_frames, cfg.images.size, tuple(sw.implicit_step))
                           for name in cfg.images.names])


def measure_points(cfg) -> tuple[pd.DataFrame, dict]:
    """Every curve point on the image set of cfg.images + gnl_sweep.crops_per_image (implicit: on
    the pan sequences of pan_frames): mean bpp (bytes actually produced), mean normalised MSE,
    FID of the whole set against the originals."""
    from gensemcom.agents import hybrid as hy
    from gensemcom.agents import implicit as im
    from gensemcom.agents import pixel_swap as ps
    from gensemcom.agents.backends import build

    from gensemcom.agents.images import image_set
    from gensemcom.analysis import fid as fidlib

    sw = cfg.gnl_sweep
    _, images = image_set(cfg.images.names, cfg.images.size, sw.crops_per_image, cfg.seed)
    n, h, w = images.shape[:3]
    pixels = h * w
    ref = fidlib.inception_features(images)
    fid_inverted = fidlib.fid(ref, fidlib.inception_features(255 - images))

    bases = {f"learned {r}": {"backend": "learned", "rate": r} for r in sw.codec_rates}
    bases |= {f"jpeg q{q}": {"backend": "jpeg", "quality": q} for q in sorted({*sw.jpeg_qualities, sw.jpeg_ps_quality})}
    jobs = [(label, 0.0) for label in bases]
    jobs += [(f"learned {r}", g) for r in sw.codec_rates for g in sw.ps_gammas]
    jobs += [(f"jpeg q{sw.jpeg_ps_quality}", g) for g in sw.ps_gammas]
    jobs += [(f"learned {r}", ("hybrid", f)) for r in sw.codec_rates for f in sw.hybrid_factors]
    decoded, measured = {}, {}
    for label, gamma in tqdm(jobs, desc="gnl sweep: codec / pixel-swap / hybrid points", mininterval=2):
        if label not in decoded:
            codec = build("codec", bases[label])
            bits = [codec.encode(x) for x in images]
            decoded[label] = (np.stack([codec.decode(b) for b in bits]), np.array([len(b) for b in bits]))
        rec, nbytes = decoded[label]
        if isinstance(gamma, tuple):  # hybrid: the reduced original travels with the latent
            factor = gamma[1]
            payloads = [hy.encode_reduced(x, factor) for x in images]
            rec = np.stack([hy.combine(r, p) for r, p in zip(rec, payloads)])
            nbytes = nbytes + np.array([len(p) for p in payloads])
            fid_value = fidlib.fid(ref, fidlib.inception_features(rec))
            measured[label, gamma] = {
                "base": label, "factor": float(factor), "bpp": float(np.mean(8.0 * nbytes / pixels)),
                "prompt_bpp": float(np.mean(8.0 * decoded[label][1] / pixels)),
                "normalised_mse": float(np.mean([metrics.normalised_mse(x, y) for x, y in zip(images, rec)])),
                "fid": fid_value, "fid_vs_inverted": metrics.normalised_fid(fid_value, fid_inverted),
                "n_images": n, "exact": False}
            continue
        if gamma > 0:  # the PS payload travels with the prompt; positions from a per-image seed
            payloads = [ps.encode_swap(x, gamma, cfg.seed * 1_000_003 + i) for i, x in enumerate(images)]
            rec = np.stack([ps.apply_swap(r, p) for r, p in zip(rec, payloads)])
            nbytes = nbytes + np.array([len(p) for p in payloads])
        fid_value = fidlib.fid(ref, fidlib.inception_features(rec))
        measured[label, gamma] = {
            "base": label, "gamma": gamma, "bpp": float(np.mean(8.0 * nbytes / pixels)),
            "prompt_bpp": float(np.mean(8.0 * decoded[label][1] / pixels)),
            "normalised_mse": float(np.mean([metrics.normalised_mse(x, y) for x, y in zip(images, rec)])),
            "fid": fid_value, "fid_vs_inverted": metrics.normalised_fid(fid_value, fid_inverted),
            "n_images": n, "exact": False}

    rows = []
    for r in sw.codec_rates:
        rows.append({"curve": "pe", **measured[f"learned {r}", 0.0]})
        rows += [{"curve": f"ps_{r}", **measured[f"learned {r}", g]} for g in (0.0, *sw.ps_gammas)]
    for r in sw.codec_rates:
        rows.append({"curve": f"hybrid_{r}", **measured[f"learned {r}", 0.0], "gamma": np.nan, "factor": np.inf})
        rows += [{"curve": f"hybrid_{r}", **measured[f"learned {r}", ("hybrid", f)]} for f in sw.hybrid_factors]
    rows += [{"curve": "jpeg", **measured[f"jpeg q{q}", 0.0]} for q in sorted(sw.jpeg_qualities)]
    rows += [{"curve": "jpeg_ps", **measured[f"jpeg q{sw.jpeg_ps_quality}", g]} for g in (0.0, *sw.ps_gammas)]
    exact = {"normalised_mse": 0.0, "fid": 0.0, "fid_vs_inverted": 0.0, "n_images": n, "exact": True}
    rows += [{"curve": c, "base": "original", "gamma": 1.0, "bpp": RAW_BPP, "prompt_bpp": RAW_BPP, **exact}
             for c in ("pe", "jpeg")]
    for c, label in [*((f"ps_{r}", f"learned {r}") for r in sw.codec_rates), ("jpeg_ps", f"jpeg q{sw.jpeg_ps_quality}")]:
        lp = measured[label, 0.0]["prompt_bpp"]
        rows.append({"curve": c, "base": label, "gamma": 1.0, "prompt_bpp": lp,
                     "bpp": float(ps.combined_prompt_bpp(lp, 1.0, h, w)), **exact})
    for r in sw.codec_rates:  # factor 1: the reduced version is the original
        lp = measured[f"learned {r}", 0.0]["prompt_bpp"]
        rows.append({"curve": f"hybrid_{r}", "base": f"learned {r}", "factor": 1.0, "prompt_bpp": lp,
                     "bpp": float(hy.hybrid_prompt_bpp(lp, 1, h, w)), **exact})

    # implicit prompting: pan sequences, frame i received iff i % k == 0, the others predicted
    frames = pan_frames(cfg)
    nf = sw.implicit_frames
    seqs = frames.reshape(-1, nf, *frames.shape[1:])
    ref_frames = fidlib.inception_features(frames)
    fid_inverted_frames = fidlib.fid(ref_frames, fidlib.inception_features(255 - frames))
    for k in tqdm(sw.implicit_keep_every, desc="gnl sweep: implicit prompting points", mininterval=2):
        mask = im.keep_every_mask(nf, k)
        rec = np.concatenate([im.implicit_reconstruct(s, mask) for s in seqs])
        held = np.concatenate([im.implicit_reconstruct(s, mask, im.hold) for s in seqs])
        fid_value = fidlib.fid(ref_frames, fidlib.inception_features(rec))
        sent = RAW_BPP * mask.sum() / nf   # raw frames actually sent, averaged over all frames
        rows.append({"curve": "implicit", "base": "pan frames", "keep_every": float(k), "bpp": sent, "prompt_bpp": sent,
                     "frames_extrapolated": float(im.motion_predicted(mask).sum()),
                     "normalised_mse": float(np.mean([metrics.normalised_mse(x, y) for x, y in zip(frames, rec)])),
                     "normalised_mse_hold": float(np.mean([metrics.normalised_mse(x, y) for x, y in zip(frames, held)])),
                     "fid": fid_value, "fid_vs_inverted": metrics.normalised_fid(fid_value, fid_inverted_frames),
                     "n_images": len(frames), "exact": False, "fid_set": "pan frames"})
    rows.append({"curve": "implicit", "base": "pan frames", "keep_every": 1.0, "bpp": RAW_BPP, "prompt_bpp": RAW_BPP,
                 **exact, "normalised_mse_hold": 0.0, "frames_extrapolated": 0.0, "n_images": len(frames),
                 "fid_set": "pan frames"})

    points = pd.DataFrame(rows)
    for col in ("gamma", "factor", "keep_every", "normalised_mse_hold", "frames_extrapolated"):
        points[col] = points[col].astype(float)
    points["fid_set"] = points["fid_set"].fillna("images")
    points["scheme"] = np.where(points["curve"].str.startswith("jpeg"), "jpeg", "genai")
    return points, {"n_images": n, "image_side": h, "fid_inverted": fid_inverted,
                    "implicit": {"sequences": len(seqs), "frames_per_sequence": nf, "step_px_per_frame": list(sw.implicit_step),
                                 "n_frames": len(frames), "fid_inverted_frames": fid_inverted_frames},
                    "fid_caveat": fidlib.SAMPLE_SIZE_CAVEAT}


