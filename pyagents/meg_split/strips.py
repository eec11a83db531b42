"""The cooperative and parallel protocols' combining: row strips of a latent or image with
overlaps, their blended merge, and picking the candidate closest to a reference."""
from __future__ import annotations

import numpy as np

def split_spans(rows: int, parts: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """Row spans [start, stop) of `parts` horizontal strips of a `rows`-row array. Strip k owns
    the core rows [b_k, b_k+1) (boundaries on multiples of `multiple`, as the UNet needs) and
    reaches `overlap` rows into each neighbour, for blending."""
    if parts < 1:
        raise ValueError(f"need at least one part, got {parts}")
    if rows % multiple or overlap % multiple or overlap < 0:
        raise ValueError(f"rows {rows} and overlap {overlap} must be non-negative multiples of {multiple}")
    units = rows // multiple
    if parts > units:
        raise ValueError(f"{rows} rows cannot be split into {parts} strips of multiples of {multiple} rows")
    bounds = [multiple * round(i * units / parts) for i in range(parts + 1)]
    return [(max(0, bounds[i] - overlap), min(rows, bounds[i + 1] + overlap)) for i in range(parts)]


def blend_weights(span: tuple[int, int], rows: int, overlap: int) -> np.ndarray:
    """Per-row weights of one strip: 1 in its core, linear cross-fades over the 2*overlap rows
    shared with a neighbour (the two weights sum to 1 there), 1 up to the array's borders."""
    start, stop = span
    r = np.arange(start, stop, dtype=np.float64) + 0.5
    w = np.ones(stop - start)
    if overlap:
        if start > 0:
            w = np.minimum(w, (r - start) / (2 * overlap))
        if stop < rows:
            w = np.minimum(w, (stop - r) / (2 * overlap))
    return w


def merge_parts(parts: list[np.ndarray], spans: list[tuple[int, int]], rows: int, overlap: int,
                axis: int) -> np.ndarray:
    """Blend strips back into one array along `axis` (rows), with blend_weights. Spans and
    overlap are in the units of the split; a part may be at another resolution (a sketch of a
    strip): its rows are then scale = part rows / span rows times as many."""
    if len(parts) != len(spans) or not parts:
        raise ValueError(f"{len(parts)} parts for {len(spans)} spans")
    scale = parts[0].shape[axis] / (spans[0][1] - spans[0][0])
    for p, (a, b) in zip(parts, spans):
        if p.shape[axis] != round((b - a) * scale) or (b - a) * scale != round((b - a) * scale):
            raise ValueError(f"part of {p.shape[axis]} rows does not fit span [{a}, {b}) at scale {scale:g}")
    if rows * scale != round(rows * scale) or overlap * scale != round(overlap * scale):
        raise ValueError(f"scale {scale:g} does not map {rows} rows / overlap {overlap} onto whole rows")
    out_rows, o = round(rows * scale), round(overlap * scale)
    shape = list(parts[0].shape)
    shape[axis] = out_rows
    acc = np.zeros(shape, np.float64)
    total = np.zeros(out_rows)
    for p, (a, b) in zip(parts, spans):
        a, b = round(a * scale), round(b * scale)
        w = blend_weights((a, b), out_rows, o)
        view = [None] * p.ndim
        view[axis] = slice(None)
        index = [slice(None)] * p.ndim
        index[axis] = slice(a, b)
        acc[tuple(index)] += p.astype(np.float64) * w[tuple(view)]
        total[a:b] += w
    if (total <= 0).any():
        raise ValueError("the spans leave rows uncovered")
    view = [None] * len(shape)
    view[axis] = slice(None)
    merged = acc / total[tuple(view)]
    if parts[0].dtype == np.uint8:
        return np.clip(np.round(merged), 0, 255).astype(np.uint8)
    return merged.astype(np.float32)


def pick_closest(reference: np.ndarray, candidates: list[np.ndarray]) -> int:
    """The UE's pick rule 'closest': the candidate with the lowest pixel MSE to the user's own
    input image (resized to the candidate's size), a stand-in for the user choosing what looks
    most like what they asked for. Ties go to the lower index (the ES listed first)."""
    from PIL import Image

    errors = []
    for c in candidates:
        ref = reference
        if ref.shape != c.shape:
            ref = np.asarray(Image.fromarray(reference).resize((c.shape[1], c.shape[0]), Image.BOX))
        errors.append(float(np.mean((ref.astype(np.float64) - c.astype(np.float64)) ** 2)))
    return int(np.argmin(errors))
