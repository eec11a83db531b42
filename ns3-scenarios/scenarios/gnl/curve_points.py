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

import functools
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from gensemcom.analysis import metrics
from gensemcom.analysis.gnl_curves import RAW_BPP
from gensemcom.core.records import read_row, write_row
from gensemcom.core.torch_threads import one_torch_thread


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
    FID of the whole set against the originals. The measurements run as sweep tasks (one per
    base codec with its PS / hybrid points, one for implicit prompting) on gnl_sweep.engine."""
    from gensemcom.agents import hybrid as hy
    from gensemcom.agents import pixel_swap as ps
    from gensemcom.agents.images import image_set
    from gensemcom.analysis import fid as fidlib
    from gensemcom.campaign.tasks import Task, run_tasks, sweep_folder

    sw = cfg.gnl_sweep
    _, images = image_set(cfg.images.names, cfg.images.size, sw.crops_per_image, cfg.seed)
    n, h, w = images.shape[:3]

    bases = {f"learned {r}": {"backend": "learned", "rate": r} for r in sw.codec_rates}
    bases |= {f"jpeg q{q}": {"backend": "jpeg", "quality": q} for q in sorted({*sw.jpeg_qualities, sw.jpeg_ps_quality})}
    jobs = {label: [0.0] for label in bases}
    for r in sw.codec_rates:
        jobs[f"learned {r}"] += [*sw.ps_gammas, *(["hybrid", f] for f in sw.hybrid_factors)]
    jobs[f"jpeg q{sw.jpeg_ps_quality}"] += list(sw.ps_gammas)
    common = {"images": cfg.images.model_dump(), "gnl_sweep": sw.model_dump(), "seed": cfg.seed}
    tasks = [Task(f"{__name__}:codec_task", {**common, "base": label, "codec": bases[label], "jobs": jobs[label]},
                  f"{label}: {len(jobs[label])} points") for label in bases]
    tasks.append(Task(f"{__name__}:implicit_task", common, "implicit prompting"))
    folders = run_tasks(tasks, sweep_folder(cfg, "gnl_sweep"), sw.engine,
                        "gnl sweep: codec / pixel-swap / hybrid / implicit points")
    measured = {}
    for folder in folders[:-1]:
        got = read_row(folder / "measured.json")
        fid_inverted = got["fid_inverted"]
        measured |= {(got["base"], tuple(key) if isinstance(key, list) else key): row for key, row in got["points"]}

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
    implicit = read_row(folders[-1] / "implicit.json")
    rows += implicit["rows"]

    points = pd.DataFrame(rows)
    for col in ("gamma", "factor", "keep_every", "normalised_mse_hold", "frames_extrapolated"):
        points[col] = points[col].astype(float)
    points["fid_set"] = points["fid_set"].fillna("images")
    points["scheme"] = np.where(points["curve"].str.startswith("jpeg"), "jpeg", "genai")
    return points, {"n_images": n, "image_side": h, "fid_inverted": fid_inverted,
                    "implicit": implicit["info"], "fid_caveat": fidlib.SAMPLE_SIZE_CAVEAT}


# -- the sweep tasks (campaign.tasks), in worker processes ----------------------------------------

@functools.cache
def _image_set(images_json: str, crops: int, seed: int):
    """The image set, its Inception features and the FID of its colour-inverted copy: once
    per worker."""
    from gensemcom.agents.images import image_set
    from gensemcom.analysis import fid as fidlib
    from gensemcom.config import ImagesConfig

    im = ImagesConfig(**json.loads(images_json))
    _, images = image_set(im.names, im.size, crops, seed)
    ref = fidlib.inception_features(images)
    return images, ref, fidlib.fid(ref, fidlib.inception_features(255 - images))


def codec_task(out, images: dict, gnl_sweep: dict, seed: int, base: str, codec: dict, jobs: list) -> None:
    """One base codec: its plain point (gamma 0), its pixel-swap points (gamma > 0) and hybrid
    points (["hybrid", factor]) into out/measured.json; on one torch thread, as the sweep's own
    process runs (the same features with any number of workers)."""
    with one_torch_thread():
        _codec_points(out, images, gnl_sweep, seed, base, codec, jobs)


def _codec_points(out, images: dict, gnl_sweep: dict, seed: int, base: str, codec: dict, jobs: list) -> None:
    from gensemcom.agents import hybrid as hy
    from gensemcom.agents import pixel_swap as ps
    from gensemcom.agents.backends import build
    from gensemcom.analysis import fid as fidlib

    imgs, ref, fid_inverted = _image_set(json.dumps(images, sort_keys=True), gnl_sweep["crops_per_image"], seed)
    n, h, w = imgs.shape[:3]
    pixels = h * w
    model = build("codec", codec)
    bits = [model.encode(x) for x in imgs]
    decoded, sizes = np.stack([model.decode(b) for b in bits]), np.array([len(b) for b in bits])
    points = []
    for job in jobs:
        rec, nbytes = decoded, sizes
        if isinstance(job, list):  # hybrid: the reduced original travels with the latent
            factor = job[1]
            payloads = [hy.encode_reduced(x, factor) for x in imgs]
            rec = np.stack([hy.combine(r, p) for r, p in zip(rec, payloads)])
            nbytes = nbytes + np.array([len(p) for p in payloads])
            where = {"base": base, "factor": float(factor)}
        else:
            gamma = job
            if gamma > 0:  # the PS payload travels with the prompt; positions from a per-image seed
                payloads = [ps.encode_swap(x, gamma, seed * 1_000_003 + i) for i, x in enumerate(imgs)]
                rec = np.stack([ps.apply_swap(r, p) for r, p in zip(rec, payloads)])
                nbytes = nbytes + np.array([len(p) for p in payloads])
            where = {"base": base, "gamma": gamma}
        fid_value = fidlib.fid(ref, fidlib.inception_features(rec))
        points.append([job, {
            **where, "bpp": float(np.mean(8.0 * nbytes / pixels)),
            "prompt_bpp": float(np.mean(8.0 * sizes / pixels)),
            "normalised_mse": float(np.mean([metrics.normalised_mse(x, y) for x, y in zip(imgs, rec)])),
            "fid": fid_value, "fid_vs_inverted": metrics.normalised_fid(fid_value, fid_inverted),
            "n_images": n, "exact": False}])
    write_row(out / "measured.json", {"base": base, "fid_inverted": fid_inverted, "points": points})


def implicit_task(out, images: dict, gnl_sweep: dict, seed: int) -> None:
    """Implicit prompting on the pan sequences: frame i received iff i % k == 0, the others
    predicted; rows and set info into out/implicit.json (on one torch thread, as codec_task)."""
    with one_torch_thread():
        _implicit_points(out, images, gnl_sweep)


def _implicit_points(out, images: dict, gnl_sweep: dict) -> None:
    from gensemcom.agents import implicit as im
    from gensemcom.analysis import fid as fidlib
    from gensemcom.config import ImagesConfig
    from gensemcom.config.generative_network import GnlSweepConfig

    sw = GnlSweepConfig(**gnl_sweep)
    frames = pan_frames(SimpleNamespace(gnl_sweep=sw, images=ImagesConfig(**images)))
    nf = sw.implicit_frames
    seqs = frames.reshape(-1, nf, *frames.shape[1:])
    ref_frames = fidlib.inception_features(frames)
    fid_inverted_frames = fidlib.fid(ref_frames, fidlib.inception_features(255 - frames))
    exact = {"normalised_mse": 0.0, "fid": 0.0, "fid_vs_inverted": 0.0, "exact": True}
    rows = []
    for k in sw.implicit_keep_every:
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
                 **exact, "n_images": len(frames), "normalised_mse_hold": 0.0, "frames_extrapolated": 0.0,
                 "fid_set": "pan frames"})
    write_row(out / "implicit.json", {"rows": rows, "info": {
        "sequences": len(seqs), "frames_per_sequence": nf, "step_px_per_frame": list(sw.implicit_step),
        "n_frames": len(frames), "fid_inverted_frames": fid_inverted_frames}})
