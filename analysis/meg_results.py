"""Mobile edge generation results: the overhead table (the paper's Fig. 6) measured from the
packet trace, response time and quality per protocol (figures: meg_figures).

Quality of a delivered image: PSNR and LPIPS (vs the input and vs the noiseless run), and two
perceptual-distribution measures on Inception-v3 pool features (analysis.fid), never mixed:
  inception_cosine   per image, an FID *substitute*: cosine of the features of the delivered vs
                     the input image (the image part of analysis.clip_score.clip_substitute);
  fid, kid, kid_std  FID and KID of the delivered images vs their input images over a group
                     (protocol, or protocol and SNR), only where the group has fid_n >= 2 images
                     (see FID_NOTE: with a handful of images they compare methods, nothing more).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

# The paper's Fig. 6 / Section IV for Stable Diffusion at its resolution: an image is 1.3 Mb, a
# latent (seed) 28 kb, CIAG moves 57 kb in all, x47.2 less than the centralised scheme. Cells the
# text does not state are derived from those numbers (marked in `paper_note`); none are given
# for ESUC's sketch or for the multi-ES protocols.
PAPER_IMAGE_BITS, PAPER_LATENT_BITS = 1.3e6, 28e3
PAPER_CIAG_TOTAL_BITS, PAPER_CIAG_REDUCTION = 57e3, 47.2

_CENTRAL = PAPER_CIAG_TOTAL_BITS * PAPER_CIAG_REDUCTION


PAPER = {  # protocol: (uplink, downlink, total, reduction, note)
    "full_ue": (0.0, 0.0, 0.0, None, "no transmission"),
    "full_es": (PAPER_IMAGE_BITS, PAPER_IMAGE_BITS, _CENTRAL, 1.0, "total = 57 kb x 47.2 (derived)"),
    "uieg": (PAPER_LATENT_BITS, PAPER_IMAGE_BITS, PAPER_LATENT_BITS + PAPER_IMAGE_BITS,
             _CENTRAL / (PAPER_LATENT_BITS + PAPER_IMAGE_BITS), "total and reduction derived"),
    "eiug": (PAPER_IMAGE_BITS, PAPER_LATENT_BITS, PAPER_LATENT_BITS + PAPER_IMAGE_BITS,
             _CENTRAL / (PAPER_LATENT_BITS + PAPER_IMAGE_BITS), "total and reduction derived"),
    "ciag": (PAPER_LATENT_BITS, PAPER_LATENT_BITS, PAPER_CIAG_TOTAL_BITS, PAPER_CIAG_REDUCTION, "stated"),
    "esuc": (PAPER_IMAGE_BITS, None, None, None, "sketch size not given"),
}


def overhead(messages: pd.DataFrame, packets: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    """Bits per request and protocol, measured from the packets: the payload bytes each node's
    app handed to ns-3 (`stream_tx`, semantic headers excluded, as the paper counts), split by
    direction with the message table (unit id = message id); the mean over the protocol's
    finished requests (a failed request's partial traffic is in messages.parquet)."""
    tx = packets[packets["event"] == "stream_tx"].groupby("unit")["bytes"].sum().rename("tx_bytes")
    # A message whose send time came after the simulation ended (its request had already
    # failed) never reached the air: it costs nothing.
    m = messages.join(tx, on="mid").fillna({"tx_bytes": 0})
    per_req = (m.pivot_table(index="rid", columns="direction", values="tx_bytes", aggfunc="sum", fill_value=0)
               .reindex(columns=["uplink", "downlink"], fill_value=0) * 8)
    ok = requests[requests["status"] == "ok"]
    per_req = ok[["rid", "protocol"]].join(per_req, on="rid").fillna({"uplink": 0, "downlink": 0})
    n_msgs = m.groupby("rid").size()
    per_req["messages"] = per_req["rid"].map(n_msgs).fillna(0)
    order = list(dict.fromkeys(requests["protocol"]))
    table = per_req.groupby("protocol", sort=False)[["uplink", "downlink", "messages"]].mean().reindex(order)
    table["requests_ok"] = ok.groupby("protocol").size().reindex(order).fillna(0).astype(int)
    table = table.rename(columns={"uplink": "uplink_bits", "downlink": "downlink_bits"})
    table["total_bits"] = table["uplink_bits"] + table["downlink_bits"]
    central = table["total_bits"].get("full_es", np.nan)
    table["reduction_vs_full_es"] = central / table["total_bits"].replace(0, np.nan)
    for i, col in enumerate(("paper_uplink_bits", "paper_downlink_bits", "paper_total_bits", "paper_reduction")):
        table[col] = [PAPER.get(p, (None,) * 5)[i] for p in table.index]
    table["paper_note"] = [PAPER.get(p, (None,) * 4 + ("not in the paper",))[4] for p in table.index]
    return table.reset_index()


# -- Inception-feature quality: the per-image FID substitute and FID / KID over a group -------

# Per request (requests.parquet): the Inception-v3 pool features (float32, 2048) of the delivered
# image and of its input image, None where nothing was delivered; FID / KID are computed from them.
FEATURES, FEATURES_INPUT = "inception_feat", "inception_feat_input"


MIN_FID_N = 2  # FID / KID need at least two images per set


QUALITY_COLUMNS = ["psnr_db", "lpips", "psnr_ref_db", "lpips_ref", "inception_cosine"]


FID_COLUMNS = ["fid_n", "fid", "kid", "kid_std"]


SUBSTITUTE_NOTE = (
    "inception_cosine is a per-image FID substitute, not FID: the cosine of the Inception-v3 pool3 "
    "features (the FID network, analysis.fid) of the delivered vs the input image, 1 for identical "
    "features. The features are post-ReLU (non-negative), so it lies in [0, 1] and is far from 0 even "
    "for unrelated images (kodim23 vs monarch / sail at 128 px: 0.38-0.47); compare it only between "
    "protocols / SNRs on the same images.")


FID_NOTE = (
    f"fid / kid: FID and KID (mean, std over subsets) of the delivered images vs their input images "
    f"over the fid_n delivered images of a protocol (and SNR), only where fid_n >= {MIN_FID_N}. ")


def fid_note() -> str:
    from .fid import SAMPLE_SIZE_CAVEAT
    return FID_NOTE + SAMPLE_SIZE_CAVEAT


def inception_cosine(feat_a, feat_b) -> float:
    """Cosine of two Inception feature vectors (the FID substitute); NaN for a zero vector."""
    u, v = np.asarray(feat_a, np.float64).ravel(), np.asarray(feat_b, np.float64).ravel()
    den = np.linalg.norm(u) * np.linalg.norm(v)
    return float(np.clip(u @ v / den, -1.0, 1.0)) if den > 0 else np.nan


def inception_scores(delivered: list[np.ndarray | None], inputs: list[np.ndarray],
                     device="cpu") -> tuple[list, list, list]:
    """Per pair (delivered image or None, its input image): the FID substitute and both feature
    vectors (float32); NaN / None where nothing was delivered. Each distinct input image is
    featurised once (a sweep point sends the same image many times). Inception runs on device."""
    from .fid import inception_features

    distinct: dict[tuple, np.ndarray] = {}
    for im in inputs:
        distinct.setdefault((im.shape, im.tobytes()), im)
    feats_in = dict(zip(distinct, inception_features(list(distinct.values()), device=device).astype(np.float32))) if distinct else {}
    got = [i for i, im in enumerate(delivered) if im is not None]
    feats_out = dict(zip(got, inception_features([delivered[i] for i in got], device=device).astype(np.float32))) if got else {}
    cos, fd, fi = [], [], []
    for i, im in enumerate(inputs):
        f_out = feats_out.get(i)
        f_in = feats_in[(im.shape, im.tobytes())] if f_out is not None else None
        cos.append(inception_cosine(f_out, f_in) if f_out is not None else np.nan)
        fd.append(f_out)
        fi.append(f_in)
    return cos, fd, fi


def _vector(x) -> bool:
    return isinstance(x, (np.ndarray, list)) and len(x) > 0


def fid_kid(frame: pd.DataFrame) -> dict:
    """FID / KID of the delivered vs input images of the finished requests in `frame` (their
    Inception features), with their number fid_n; NaN below MIN_FID_N or without features."""
    out = {"fid_n": 0, "fid": np.nan, "kid": np.nan, "kid_std": np.nan}
    if FEATURES not in frame or FEATURES_INPUT not in frame:
        return out
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    pairs = [(a, b) for a, b in zip(ok[FEATURES], ok[FEATURES_INPUT]) if _vector(a) and _vector(b)]
    out["fid_n"] = len(pairs)
    if len(pairs) >= MIN_FID_N:
        from .fid import fid, kid
        a = np.stack([np.asarray(p[0], np.float64) for p in pairs])
        b = np.stack([np.asarray(p[1], np.float64) for p in pairs])
        out["fid"] = fid(a, b)
        out["kid"], out["kid_std"] = kid(a, b)
    return out


def _quality_means(ok: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Means of the per-request quality columns (those present) and FID / KID per group."""
    cols = [c for c in QUALITY_COLUMNS if c in ok]
    means = ok.groupby(keys)[cols].mean().reindex(columns=QUALITY_COLUMNS)
    dist = pd.DataFrame([{**dict(zip(keys, k if isinstance(k, tuple) else (k,))), **fid_kid(g)}
                         for k, g in ok.groupby(keys)], columns=keys + FID_COLUMNS).set_index(keys)
    return means.join(dist)


def per_protocol(requests: pd.DataFrame) -> pd.DataFrame:
    """Response time and quality per protocol over its finished requests."""
    order = list(dict.fromkeys(requests["protocol"]))
    ok = requests[requests["status"] == "ok"]
    # PSNR is infinite for an image identical to its reference (full_ue vs its noiseless run).
    agg = ok.groupby("protocol").agg(
        requests_ok=("rid", "size"), response_s=("response_s", "mean"), response_max_s=("response_s", "max"))
    agg = agg.join(_quality_means(ok, ["protocol"])).reindex(order)
    agg["requests"] = requests.groupby("protocol").size().reindex(order)
    agg["requests_ok"] = agg["requests_ok"].fillna(0).astype(int)
    agg["fid_n"] = agg["fid_n"].fillna(0).astype(int)
    return agg.reset_index()


def _bits(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    return f"{x / 1e6:.2f} Mb" if x >= 1e6 else f"{x / 1e3:.1f} kb"


def _num(x, fmt: str) -> str:
    if x is not None and x == np.inf:
        return "∞ (identical)"
    return "–" if x is None or not np.isfinite(x) else format(x, fmt)


def _fid_cell(row) -> str:
    n = row.get("fid_n", 0)
    n = int(n) if n is not None and np.isfinite(n) else 0
    if n < MIN_FID_N or not np.isfinite(row.get("fid", np.nan)):
        return f"– (n={n})"
    return f"{row['fid']:.1f} / {row['kid']:.4f} (n={n})"


def markdown(table: pd.DataFrame, quality: pd.DataFrame) -> str:
    q = quality.set_index("protocol")
    lines = ["| protocol | uplink | downlink | total | reduction vs centralised | paper: uplink | downlink | total | "
             "reduction | response (ms) | PSNR (dB) | LPIPS | PSNR vs noiseless (dB) | "
             "inception_cosine (FID substitute) | FID / KID vs input (n) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        qr = q.loc[r["protocol"]] if r["protocol"] in q.index else {}
        lines.append("| " + " | ".join([
            r["protocol"], _bits(r["uplink_bits"]), _bits(r["downlink_bits"]), _bits(r["total_bits"]),
            "–" if not np.isfinite(r["reduction_vs_full_es"]) else f"x{r['reduction_vs_full_es']:.2f}",
            _bits(r["paper_uplink_bits"]), _bits(r["paper_downlink_bits"]), _bits(r["paper_total_bits"]),
            "–" if r["paper_reduction"] is None or not np.isfinite(r["paper_reduction"]) else f"x{r['paper_reduction']:.1f}",
            _num(qr.get("response_s", np.nan) * 1e3, ".0f"), _num(qr.get("psnr_db", np.nan), ".2f"),
            _num(qr.get("lpips", np.nan), ".3f"), _num(qr.get("psnr_ref_db", np.nan), ".2f"),
            _num(qr.get("inception_cosine", np.nan), ".3f"), _fid_cell(qr)]) + " |")
    return "\n".join(lines) + "\n\n" + SUBSTITUTE_NOTE + "\n\n" + fid_note()


def png_bytes(image: np.ndarray | None) -> bytes | None:
    """An image as PNG bytes (lossless; how the sweep's grid keeps images in Parquet)."""
    if image is None:
        return None
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_image(data: bytes | None) -> np.ndarray | None:
    if data is None:
        return None
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def response_table(requests: pd.DataFrame) -> pd.DataFrame:
    """Response time per protocol and point of the UE and ES series (requests.parquet of a
    sweep): mean / max over the finished requests, with the compute charged on each side."""
    r = requests[requests["series"].isin(["ues", "ess"])]
    if r.empty:
        return pd.DataFrame(columns=["series", "x", "protocol", "requests", "requests_ok", "response_s",
                                     "response_max_s", "compute_ue_s", "compute_es_s"])
    ok = r[r["status"] == "ok"]
    keys = ["series", "x", "protocol"]
    agg = ok.groupby(keys).agg(response_s=("response_s", "mean"), response_max_s=("response_s", "max"),
                               compute_ue_s=("compute_ue_s", "mean"), compute_es_s=("compute_es_s", "mean"))
    counts = r.groupby(keys).agg(requests=("rid", "size"), requests_ok=("status", lambda s: int((s == "ok").sum())))
    return _in_run_order(counts.join(agg).reset_index(), requests, ["series", "x"])


def quality_table(requests: pd.DataFrame) -> pd.DataFrame:
    """Quality per protocol and SNR (the SNR series): PSNR / LPIPS of the delivered image vs the
    input and vs the noiseless run and the FID substitute inception_cosine, means over the
    finished requests; FID / KID vs the inputs where a point has fid_n >= 2 delivered images."""
    r = requests[requests["series"] == "snr"].rename(columns={"x": "snr"})
    if r.empty:
        return pd.DataFrame(columns=["snr_db", "protocol", "requests", "requests_ok"] + QUALITY_COLUMNS + FID_COLUMNS)
    ok = r[r["status"] == "ok"]
    counts = r.groupby(["snr", "protocol"]).agg(requests=("rid", "size"),
                                                 requests_ok=("status", lambda s: int((s == "ok").sum())))
    table = counts.join(_quality_means(ok, ["snr", "protocol"]))
    table["fid_n"] = table["fid_n"].fillna(0).astype(int)
    return _in_run_order(table.reset_index(), requests, ["snr"]).rename(columns={"snr": "snr_db"})


def _in_run_order(frame: pd.DataFrame, requests: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows by `keys`, then protocols in the order they ran (the config's), not alphabetically."""
    rank = {p: i for i, p in enumerate(dict.fromkeys(requests["protocol"]))}
    return (frame.assign(_rank=frame["protocol"].map(rank)).sort_values(keys + ["_rank"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


# One colour per protocol across every figure (eleven: more than the default cycle), a line
# style per family: baselines dotted, single-ES solid, parallel dashed, cooperative dash-dot.


def sweep_markdown(response: pd.DataFrame, quality: pd.DataFrame) -> str:
    """Mean response time (ms) per protocol and point, and PSNR / LPIPS per protocol and SNR."""
    parts = []
    for series, label in (("ues", "UEs"), ("ess", "ESs")):
        r = response[response["series"] == series]
        if r.empty:
            continue
        t = r.pivot(index="protocol", columns="x", values="response_s").reindex(list(dict.fromkeys(r["protocol"])))
        head = [f"{x:g} {label}" for x in t.columns]
        lines = [f"| mean response (ms) | {' | '.join(head)} |", "|---" * (len(head) + 1) + "|"]
        lines += [f"| {p} | " + " | ".join(_num(v * 1e3, ".0f") for v in row) + " |" for p, row in t.iterrows()]
        parts.append("\n".join(lines))
    if not quality.empty:
        order = list(dict.fromkeys(quality["protocol"]))
        snrs = sorted(quality["snr_db"].unique())
        q = quality.set_index(["protocol", "snr_db"])
        head = [f"{s:g} dB" for s in snrs]
        lines = [f"| PSNR vs input (dB) / vs noiseless (dB) / LPIPS vs input | {' | '.join(head)} |",
                 "|---" * (len(head) + 1) + "|"]
        for p in order:
            cells = [f"{_num(q.loc[(p, s), 'psnr_db'], '.1f')} / {_num(q.loc[(p, s), 'psnr_ref_db'], '.1f')} / "
                     f"{_num(q.loc[(p, s), 'lpips'], '.3f')}" if (p, s) in q.index else "–" for s in snrs]
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
        if "inception_cosine" in q:
            lines = [f"| inception_cosine vs input (FID substitute, per-image mean) | {' | '.join(head)} |",
                     "|---" * (len(head) + 1) + "|"]
            lines += [f"| {p} | " + " | ".join(_num(q.loc[(p, s), "inception_cosine"], ".3f") if (p, s) in q.index
                                               else "–" for s in snrs) + " |" for p in order]
            parts.append("\n".join(lines) + "\n\n" + SUBSTITUTE_NOTE)
        if "fid" in q and pd.to_numeric(q["fid"], errors="coerce").notna().any():
            lines = [f"| FID / KID vs input (n) | {' | '.join(head)} |", "|---" * (len(head) + 1) + "|"]
            lines += [f"| {p} | " + " | ".join(_fid_cell(q.loc[(p, s)]) if (p, s) in q.index else "–"
                                               for s in snrs) + " |" for p in order]
            parts.append("\n".join(lines) + "\n\n" + fid_note())
        else:
            n = int(q["fid_n"].max()) if "fid_n" in q and len(q) else 0
            parts.append(f"FID / KID: not computed, at most n = {n} delivered image(s) per protocol and SNR "
                         f"(they need n >= {MIN_FID_N}); inception_cosine above is the per-image substitute. "
                         + fid_note())
    return "\n\n".join(parts)
