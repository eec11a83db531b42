"""Train the project's small latent diffusion generator (pyagents/ldm.py) on CPU or GPU.

    python -m gensemcom.agents.train_generator vae  --minutes 15
    python -m gensemcom.agents.train_generator data --crops 1500
    python -m gensemcom.agents.train_generator unet --minutes 35
    python -m gensemcom.agents.train_generator refiner --minutes 20

Stages (each writes into --out, default pyagents/weights/gsc_ldm):
    vae   AutoencoderKL on random crops, L1 + LPIPS(alex) + a small KL term; then the latent
          scaling factor (1 / std of latents) is measured on 128 px crops.
    data  a cached training set (build/ldm_data.npz): 128 px crops with the edge map of the
          configured edge detector, the colour hint and the MiniLM embedding of the prompt
          the configured prompt extractor gives the crop. HED and the classifier are too slow
          to run per training step on a CPU, so this is done once.
    unet  the conditional denoiser, x0 prediction, loss = latent MSE + LPIPS of the decoded x0
          against the image; each stream (edges, hint, text) is dropped with probability
          --drop so the model also works when a stream is lost.
    refiner the pixel-space refiner after the decoder (pyagents/ldm.py), loss = L1 + LPIPS
          against the image, on the generator's own samples of the cached crops (generated
          once with the default sampler and cached in build/ldm_samples.npz, keyed by the
          UNet and VAE weights); streams are dropped with probability --drop as for the unet.

Training is time-budgeted (--minutes), so the number of steps depends on the machine; the
step count, wall time and settings are recorded in training.json next to the weights.
Images: the catalogue's train split plus, when installed, the Debian train_extra photos
(pyagents/DATA.md); the held-out images are never used.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import ldm
from .images import names, random_crops

DATA_CACHE = Path("build/ldm_data.npz")
SAMPLES_CACHE = Path("build/ldm_samples.npz")



def _optimiser_step(opt, loss, step: int, bar, start: float, terms: dict, clip=None) -> int:
    """One step of the time-budgeted loops: backward, gradient clipping (norm 1) when `clip`
    names the parameters, update, progress by elapsed seconds, the loss terms every 100 steps."""
    import torch

    opt.zero_grad()
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip, 1.0)
    opt.step()
    step += 1
    bar.update(int(time.monotonic() - start) - bar.n)
    if step % 100 == 0:
        bar.write(f"step {step} " + " ".join(f"{k} {v.item():.4f}" for k, v in terms.items()))
    return step

def _train_pool() -> list[str]:
    return names("train") + names("train_extra")


def _to_tensor(batch: np.ndarray):
    import torch
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _lr_at(elapsed: float, budget: float, lr: float) -> float:
    # Constant, then 10x lower for the last 20 % of the budget.
    return lr if elapsed < 0.8 * budget else lr / 10


def _record(out: Path, meta: dict) -> None:
    """Merge a stage's record into training.json (next to the weights)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "training.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**old, **meta}, indent=2) + "\n")


def _previous(out: Path, stage: str) -> list[dict]:
    """The training records of the runs a resumed run continues (kept for the record)."""
    path = out / "training.json"
    if not path.exists() or stage not in (old := json.loads(path.read_text())):
        return []
    run = dict(old[stage])
    return run.pop("previous_runs", []) + [run]


def train_vae(args) -> None:
    import torch

    from ..analysis.lpips import LPIPSLoss

    torch.manual_seed(args.seed)
    cfg = ldm.LdmConfig()
    if args.resume:
        from diffusers import AutoencoderKL
        vae = AutoencoderKL.from_pretrained(args.out / "vae").train()
    else:
        vae = ldm.build_vae(cfg).train()
    lpips_loss = LPIPSLoss("alex")
    opt = torch.optim.Adam(vae.parameters(), lr=args.lr)
    pool = _train_pool()
    budget, start, step = 60.0 * args.minutes, time.monotonic(), 0
    bar = tqdm(total=int(budget), unit="s", mininterval=30, file=sys.stdout, desc="vae")
    while (elapsed := time.monotonic() - start) < budget:
        for g in opt.param_groups:
            g["lr"] = _lr_at(elapsed, budget, args.lr)
        x = _to_tensor(random_crops(pool, args.batch, args.crop, seed=args.seed * 1_000_003 + step))
        posterior = vae.encode(x).latent_dist
        rec = vae.decode(posterior.sample()).sample
        l1 = (rec - x).abs().mean()
        perceptual = lpips_loss((rec + 1) / 2, (x + 1) / 2)
        kl = posterior.kl().mean() / x[0].numel()
        loss = l1 + args.lpips * perceptual + args.kl * kl
        step = _optimiser_step(opt, loss, step, bar, start, {"l1": l1, "lpips": perceptual, "kl": kl})
    bar.close()
    vae.eval()
    with torch.no_grad():
        x = _to_tensor(random_crops(pool, 64, 128, seed=12345))
        std = float(vae.encode(x).latent_dist.mean.std())
    cfg = ldm.LdmConfig(scaling_factor=round(1.0 / std, 5))
    previous = _previous(args.out, "vae") if args.resume else []
    ldm.save(args.out, cfg, vae=vae, meta={"vae": {"previous_runs": previous,
        "command": "python -m gensemcom.agents.train_generator " + " ".join(sys.argv[1:]),
        "steps": step, "wall_seconds": round(time.monotonic() - start, 1), "minutes": args.minutes,
        "batch": args.batch, "crop": args.crop, "lr": args.lr, "lpips_weight": args.lpips,
        "kl_weight": args.kl, "seed": args.seed, "torch_threads": torch.get_num_threads(),
        "train_images": pool, "latent_std": std}})
    print(f"vae: {step} steps; latent std {std:.4f}; wrote {args.out}")


def build_data(args) -> None:
    from .backends import build

    edges_backend = build("edges", json.loads(args.edges))
    prompt_backend = build("prompt", json.loads(args.prompt))
    text = build("text", {"backend": "minilm"})
    pool = _train_pool()
    crops = random_crops(pool, args.crops, 128, seed=args.seed + 777)
    edges = np.empty((len(crops), 128, 128), bool)
    prompts = []
    for i, crop in enumerate(tqdm(crops, desc="data (edges + prompts)", mininterval=10, file=sys.stdout)):
        edges[i] = edges_backend.detect(crop)
        prompts.append(prompt_backend.extract(crop))
    emb = text.encode(prompts).astype(np.float32)
    DATA_CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(DATA_CACHE, images=crops, edges=edges, text=emb, prompts=np.array(prompts),
                        meta=json.dumps({"edges": edges_backend.name, "prompt": prompt_backend.name,
                                         "text": text.name, "pool": pool, "seed": args.seed}))
    summary = {"command": "python -m gensemcom.agents.train_generator " + " ".join(sys.argv[1:]),
               "crops": len(crops), "edge_density": round(float(edges.mean()), 4),
               "distinct_prompts": len(set(prompts))}
    _record(args.out, {"data": summary})
    print(f"wrote {DATA_CACHE}: {summary}")


def _batch(data, rng, batch: int, crop: int, cfg: ldm.LdmConfig, drop: float):
    """A random batch of sub-crops with their edges, hints and text; streams dropped at random."""
    idx = rng.integers(len(data["images"]), size=batch)
    top, left = rng.integers(0, 128 - crop + 1, size=(2, batch))
    imgs = np.stack([data["images"][i, t:t + crop, x:x + crop] for i, t, x in zip(idx, top, left)])
    edges = np.stack([data["edges"][i, t:t + crop, x:x + crop] for i, t, x in zip(idx, top, left)])
    flip = rng.random(batch) < 0.5
    imgs[flip], edges[flip] = imgs[flip, :, ::-1], edges[flip, :, ::-1]
    hints = np.stack([ldm.make_hint(im, cfg.hint_side) for im in imgs])
    control = ldm.control_tensor(edges, hints, crop, cfg)
    text = data["text"][idx].copy()
    f2 = cfg.factor ** 2
    for b in range(batch):
        if rng.random() < drop:
            control[b, :f2] = 0
        if rng.random() < drop:
            control[b, f2:] = 0
        if rng.random() < drop:
            text[b] = 0
    return imgs, control, text


def train_unet(args) -> None:
    import torch

    from ..analysis.lpips import LPIPSLoss

    torch.manual_seed(args.seed)
    cfg = ldm.load_config(args.out)
    from diffusers import AutoencoderKL
    vae = AutoencoderKL.from_pretrained(args.out / "vae").eval().requires_grad_(False)
    if args.tune_decoder:
        # The decoder learns to render the denoiser's x0 estimates (the encoder stays fixed, so
        # the latent space the UNet works in does not move).
        vae.decoder.requires_grad_(True).train()
    if args.resume:
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel.from_pretrained(args.out / "unet").train()
    else:
        unet = ldm.build_unet(cfg).train()
    sched = ldm.build_scheduler(cfg)
    alphas = sched.alphas_cumprod
    lpips_loss = LPIPSLoss("alex")
    data = dict(np.load(DATA_CACHE))
    meta = json.loads(str(data.pop("meta")))
    rng = np.random.default_rng(args.seed)
    groups = [{"params": list(unet.parameters()), "lr": args.lr, "scale": 1.0}]
    if args.tune_decoder:
        groups.append({"params": list(vae.decoder.parameters()), "lr": args.lr / 4, "scale": 0.25})
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    budget, start, step = 60.0 * args.minutes, time.monotonic(), 0
    bar = tqdm(total=int(budget), unit="s", mininterval=30, file=sys.stdout, desc="unet")
    while (elapsed := time.monotonic() - start) < budget:
        for g in opt.param_groups:
            g["lr"] = _lr_at(elapsed, budget, args.lr) * g["scale"]
        imgs, control, text = _batch(data, rng, args.batch, args.crop, cfg, args.drop)
        x = _to_tensor(imgs)
        with torch.no_grad():
            z0 = vae.encode(x).latent_dist.mean * cfg.scaling_factor
        t = torch.from_numpy(rng.integers(0, cfg.train_steps, size=args.batch))
        a = alphas[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * torch.from_numpy(rng.standard_normal(z0.shape, dtype=np.float32))
        x0_hat = unet(torch.cat([zt, control], 1), t, encoder_hidden_states=torch.from_numpy(text)[:, None]).sample
        latent_mse = torch.mean((x0_hat - z0) ** 2)
        rec = vae.decode(x0_hat / cfg.scaling_factor).sample
        perceptual = lpips_loss((rec + 1) / 2, (x + 1) / 2)
        loss = latent_mse + args.lpips * perceptual
        step = _optimiser_step(opt, loss, step, bar, start, {"latent_mse": latent_mse, "lpips": perceptual},
                               clip=[p for g in groups for p in g["params"]])
    bar.close()
    previous = _previous(args.out, "unet") if args.resume else []
    ldm.save(args.out, cfg, unet=unet.eval(), vae=vae.eval() if args.tune_decoder else None,
             meta={"unet": {"previous_runs": previous, "tune_decoder": args.tune_decoder,
        "command": "python -m gensemcom.agents.train_generator " + " ".join(sys.argv[1:]),
        "steps": step, "wall_seconds": round(time.monotonic() - start, 1), "minutes": args.minutes,
        "batch": args.batch, "crop": args.crop, "lr": args.lr, "lpips_weight": args.lpips,
        "stream_drop": args.drop, "seed": args.seed, "torch_threads": torch.get_num_threads(),
        "data": meta}})
    print(f"unet: {step} steps; wrote {args.out}")


def _weights_key(out: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    for f in sorted((out / "unet").glob("*")) + sorted((out / "vae").glob("*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _samples(args, data) -> np.ndarray:
    """The generator's samples (uint8, 128 px) of every cached crop, with the default sampler
    and without a refiner; seeds are the crop indices."""
    import torch

    from .backends.split import GscLdmSplit

    key = _weights_key(args.out)
    if SAMPLES_CACHE.exists():
        cached = np.load(SAMPLES_CACHE)
        if str(cached["key"]) == key and len(cached["samples"]) == len(data["images"]):
            return cached["samples"]
    model = GscLdmSplit(path=str(args.out))
    cfg, size, n = model.cfg, data["images"].shape[1], len(data["images"])
    hints = np.stack([ldm.make_hint(im, cfg.hint_side) for im in data["images"]])
    out = np.empty_like(data["images"])
    with torch.no_grad():
        for lo in tqdm(range(0, n, 16), desc="refiner: generator samples", mininterval=20, file=sys.stdout):
            idx = np.arange(lo, min(lo + 16, n))
            z = torch.from_numpy(np.stack([model.initial_latent(int(i), size) for i in idx]))
            cond = {"text": torch.from_numpy(data["text"][idx])[:, None],
                    "control": ldm.control_tensor(data["edges"][idx], hints[idx], size, cfg)}
            for t in model.timesteps:
                z = model.scheduler.step(model._predict(z, t, cond), t, z).prev_sample
            x = model.vae.decode(z / cfg.scaling_factor).sample
            out[idx] = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    np.savez_compressed(SAMPLES_CACHE, samples=out, key=key)
    return out


def train_refiner(args) -> None:
    import torch

    from ..analysis.lpips import LPIPSLoss

    torch.manual_seed(args.seed)
    data = dict(np.load(DATA_CACHE))
    meta = json.loads(str(data.pop("meta")))
    samples = _samples(args, data)
    cfg = ldm.load_config(args.out)
    size = data["images"].shape[1]
    hint_up = np.stack([ldm.upsample_hint(ldm.make_hint(im, cfg.hint_side), size) for im in data["images"]])
    refiner = (ldm.load_refiner(args.out) if args.resume else None) or ldm.build_refiner()
    refiner.train()
    lpips_loss = LPIPSLoss("alex")
    opt = torch.optim.AdamW(refiner.parameters(), lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed)
    budget, start, step = 60.0 * args.minutes, time.monotonic(), 0
    bar = tqdm(total=int(budget), unit="s", mininterval=30, file=sys.stdout, desc="refiner")
    c = args.crop
    while (elapsed := time.monotonic() - start) < budget:
        for g in opt.param_groups:
            g["lr"] = _lr_at(elapsed, budget, args.lr)
        idx = rng.integers(len(samples), size=args.batch)
        top, left = rng.integers(0, size - c + 1, size=(2, args.batch))
        flip = rng.random(args.batch) < 0.5

        def cut(a):
            return np.stack([a[i, t:t + c, x:x + c][:, ::-1] if f else a[i, t:t + c, x:x + c]
                             for i, t, x, f in zip(idx, top, left, flip)])

        x, gen, edges, up = _to_tensor(cut(data["images"])), _to_tensor(cut(samples)), cut(data["edges"]), cut(hint_up)
        inp = ldm.refiner_input(gen, edges, up)
        for b in range(args.batch):  # stream loss, as the generator sees it
            if rng.random() < args.drop:
                inp[b, 3] = 0
            if rng.random() < args.drop:
                inp[b, 4:] = 0
        rec = refiner(inp)
        l1 = (rec - x).abs().mean()
        perceptual = lpips_loss((rec.clamp(-1, 1) + 1) / 2, (x + 1) / 2)
        loss = args.l1 * l1 + args.lpips * perceptual
        step = _optimiser_step(opt, loss, step, bar, start, {"l1": l1, "lpips": perceptual},
                               clip=refiner.parameters())
    bar.close()
    previous = _previous(args.out, "refiner") if args.resume else []
    ldm.save_refiner(args.out, refiner.eval())
    _record(args.out, {"refiner": {"previous_runs": previous,
        "command": "python -m gensemcom.agents.train_generator " + " ".join(sys.argv[1:]),
        "steps": step, "wall_seconds": round(time.monotonic() - start, 1), "minutes": args.minutes,
        "batch": args.batch, "crop": c, "lr": args.lr, "lpips_weight": args.lpips, "l1_weight": args.l1,
        "stream_drop": args.drop, "seed": args.seed, "torch_threads": torch.get_num_threads(),
        "samples_key": _weights_key(args.out), "data": meta}})
    print(f"refiner: {step} steps; wrote {args.out / 'refiner'}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["vae", "data", "unet", "refiner"])
    p.add_argument("--out", type=Path, default=ldm.WEIGHTS_DIR)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64, help="training crop side in pixels")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--lpips", type=float, default=0.5, help="weight of the LPIPS term")
    p.add_argument("--l1", type=float, default=1.0, help="weight of the L1 term (refiner)")
    p.add_argument("--kl", type=float, default=1e-3, help="weight of the per-dimension KL term (vae)")
    p.add_argument("--drop", type=float, default=0.1, help="probability of dropping each stream (unet)")
    p.add_argument("--crops", type=int, default=1500, help="number of cached 128 px crops (data)")
    p.add_argument("--edges", default='{"backend": "hed"}', help="edge backend spec (data)")
    p.add_argument("--prompt", default='{"backend": "efficientnet_lite0"}', help="prompt backend spec (data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tune-decoder", action="store_true", help="unet stage: also fine-tune the VAE decoder")
    p.add_argument("--resume", action="store_true", help="continue from the weights in --out (vae, unet, refiner)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    {"vae": train_vae, "data": build_data, "unet": train_unet, "refiner": train_refiner}[args.stage](args)


if __name__ == "__main__":
    main()
