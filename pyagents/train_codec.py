"""Train the LatentCodec on random crops of the TRAIN images, then evaluate on the held-out ones.

    python -m gensemcom.agents.train_codec --minutes 25 --lmbda 0.004 --out pyagents/weights/codec_fp_medium.pt
    ... --eval-only                               (re-evaluate an existing checkpoint)

Writes the checkpoint ({"params", "state_dict", "train"}, loadable with
torch.load(weights_only=True)) and a JSON report next to it with the command, seed,
steps, data and held-out bpp/PSNR against PIL JPEG at the nearest bpp.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .codec import LatentCodec, build_model
from .images import catalogue, load_image, load_native, names, random_crops
from .jpeg_codec import jpeg_at_bpp, psnr


def evaluate(codec: LatentCodec) -> dict:
    """Held-out images at 128x128 (centre crop, resized) and as a native 256x256 centre crop."""
    def centre_256(name):
        img = load_native(name)
        top, left = (img.shape[0] - 256) // 2, (img.shape[1] - 256) // 2
        return img[top:top + 256, left:left + 256]

    report = {}
    for label, get in (("128_resized", lambda n: load_image(n, 128)), ("256_native_crop", centre_256)):
        rows = {}
        for name in names("heldout"):
            img = get(name)
            data = codec.encode(img)
            bpp = 8 * len(data) / (img.shape[0] * img.shape[1])
            rows[name] = {"bpp": bpp, "psnr": psnr(img, codec.decode(data)), "jpeg": jpeg_at_bpp(img, bpp)}
        mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("bpp", "psnr")}
        mean["jpeg_bpp"] = float(np.mean([r["jpeg"]["bpp"] for r in rows.values()]))
        mean["jpeg_psnr"] = float(np.mean([r["jpeg"]["psnr"] for r in rows.values()]))
        report[label] = {"per_image": rows, "mean": mean}
    return report


def train(args) -> dict:
    torch.manual_seed(args.seed)
    model = build_model(args.N, args.M).train()
    previous = []
    if args.init:
        # Continue a checkpoint (e.g. one trained on a shared, busy machine); its record is kept.
        ckpt = torch.load(args.init, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["state_dict"])
        old = dict(ckpt["train"])
        previous = old.pop("previous_runs", []) + [old]
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=args.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    budget = 60.0 * args.minutes
    start = time.monotonic()
    step = 0
    bar = tqdm(total=int(budget), unit="s", mininterval=30, file=sys.stdout)
    while (elapsed := time.monotonic() - start) < budget:
        # Decay the learning rate 10x for the last 20% of the budget.
        for g in opt.param_groups:
            g["lr"] = args.lr if elapsed < 0.8 * budget else args.lr / 10
        # Seed per step so the crop stream is reproducible regardless of timing.
        crops = random_crops("train", args.batch, args.crop, seed=args.seed * 1_000_003 + step)
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        out = model(x)
        mse = torch.mean((out["x_hat"] - x) ** 2)
        bpp = sum(torch.log2(p).sum() for p in out["likelihoods"].values()) / (-x.shape[0] * x.shape[2] * x.shape[3])
        loss = args.lmbda * 255.0 ** 2 * mse + bpp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
        aux_loss = model.aux_loss()
        aux_opt.zero_grad()
        aux_loss.backward()
        aux_opt.step()
        step += 1
        bar.update(int(time.monotonic() - start) - bar.n)
        if step % 200 == 0:
            bar.write(f"step {step} loss {loss.item():.4f} bpp {bpp.item():.3f} "
                      f"psnr {10 * np.log10(1 / max(mse.item(), 1e-10)):.2f} aux {aux_loss.item():.1f}")
    bar.close()
    model.eval().update(force=True)
    params = {"arch": "FactorizedPrior", "N": args.N, "M": args.M, "lambda": args.lmbda}
    meta = {"command": "python -m gensemcom.agents.train_codec " + " ".join(sys.argv[1:]),
            "seed": args.seed, "minutes": args.minutes,
            "wall_seconds": round(time.monotonic() - start, 1), "steps": step, "batch": args.batch,
            "crop": args.crop, "lr": args.lr, "torch_threads": torch.get_num_threads(),
            "train_images": names("train"), "init": str(args.init) if args.init else None,
            "previous_runs": previous}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params": params, "state_dict": model.state_dict(), "train": meta}, args.out)
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=25.0)
    p.add_argument("--out", type=Path, default=Path("pyagents/weights/codec_fp_medium.pt"))
    p.add_argument("--lmbda", type=float, default=0.004, help="weight of 255^2*MSE against bpp")
    p.add_argument("--N", type=int, default=64)
    p.add_argument("--M", type=int, default=96)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", type=Path, help="continue training this checkpoint (same N, M)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-only", action="store_true", help="skip training; evaluate --out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = None if args.eval_only else train(args)
    meta = meta or torch.load(args.out, map_location="cpu", weights_only=True)["train"]
    codec = LatentCodec.load(args.out)
    info = {i.name: {"source": i.source, "licence": i.licence, "split": i.split} for i in catalogue()}
    report = {"codec": codec.name, "params": codec.params, "training": meta,
              "checkpoint_bytes": args.out.stat().st_size, "images": info,
              "heldout": evaluate(codec),
              "note": "bpp counts the whole bitstream incl. header; JPEG bpp is the whole PIL file "
                      "(quality sweep 1..95, optimize=True) at the quality nearest the codec's bpp"}
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    for label, r in report["heldout"].items():
        m = r["mean"]
        print(f"{label}: codec {m['bpp']:.3f} bpp {m['psnr']:.2f} dB | JPEG {m['jpeg_bpp']:.3f} bpp {m['jpeg_psnr']:.2f} dB")
    print(f"wrote {args.out} ({report['checkpoint_bytes']} bytes) and {json_path}")


if __name__ == "__main__":
    main()
