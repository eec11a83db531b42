"""Agent process: serves one role over the bridge.

    python -m gensemcom.agents.agent --role encoder|generator|meg --endpoint ipc://... --options '{}'

encoder   (source side): image -> the requested streams (prompt text, edge-map bitstream,
          colour hint, latent bitstream)
generator (GenAI node):  received streams -> image (PNG or raw bytes)
meg       (a UE or an edge server of mobile edge generation): the split model's ops
          (encode, denoise, decode, sketch, complete, split, merge, pick; see meg_split/)

Options: {"models": {role: backend spec}, "streams": [...], "threads": n, "seed": s,
"max_batch": n, "batch_wait_ms": ms (batches: `encode` and `generate`), "cores": [..] (CPU
affinity), "device": "auto"|"cpu"|"cuda[:N]" (config agents.device: given to every model whose
backend takes a device and whose spec names none)}; the
models are built with pyagents.backends (each role's offline default when not given).
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path

import numpy as np

STREAMS = ("prompt", "edge", "hint", "latent")
DEFAULT_STREAMS = ("prompt", "edge", "hint")
log = logging.getLogger("gensemcom.agent")


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def check_streams(streams) -> list[str]:
    streams = list(streams)
    unknown = [s for s in streams if s not in STREAMS]
    if unknown or not streams or len(set(streams)) != len(streams):
        raise ValueError(f"streams must be distinct names from {STREAMS}, got {streams}")
    return streams


def encode_hint(hint: np.ndarray) -> bytes:
    """The colour hint travels as raw RGB bytes: a bit error only shifts one colour value."""
    return np.ascontiguousarray(hint, dtype=np.uint8).tobytes()


def decode_hint(data: bytes, side: int) -> np.ndarray | None:
    if len(data) != side * side * 3:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(side, side, 3)


class SemanticAgent:
    """Holds the models of one node; each method is one bridge op."""

    def __init__(self, role: str, options: dict):
        import torch

        from .backends import build, model_device, with_device

        torch.set_num_threads(int(options.get("threads", 1)))
        torch.manual_seed(int(options.get("seed", 0)))
        self.seed = int(options.get("seed", 0))
        models = options.get("models") or {}
        self.streams = check_streams(options.get("streams", DEFAULT_STREAMS))
        self.edge_format = options.get("edge_format", "zlib")
        if self.edge_format not in ("zlib", "raw"):
            raise ValueError(f"edge_format must be zlib or raw, got {self.edge_format!r}")
        self.models: dict[str, object] = {}
        # Model role -> the stream it serves (None: always needed); only what is used is loaded.
        needed = {"encoder": {"prompt": "prompt", "edges": "edge", "codec": "latent"},
                  "generator": {"generator": None, "codec": "latent"}}[role]
        for model_role, stream in needed.items():
            if stream is None or stream in self.streams:
                spec = with_device(model_role, models.get(model_role), options.get("device", "auto"))
                self.models[model_role] = build(model_role, spec)
                log.info("%s: %s on %s", model_role, self.models[model_role].name, model_device(self.models[model_role]))
        from . import ldm
        self.hint_side = ldm.HINT_SIDE

    def info(self) -> dict:
        return {name: model.name for name, model in self.models.items()}

    def encode(self, header: dict, frames: list[bytes]) -> tuple[dict, list[bytes]]:
        result = self.encode_batch([(header, frames)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def encode_batch(self, items: list[tuple[dict, list[bytes]]]) -> list:
        """encode() of each (header, frames), the prompt and edge networks each run once on all
        the items that ask for their stream (base.call_many); one (meta, frames) or exception
        per item: an item that fails fails alone."""
        from . import ldm
        from .semantics import encode_edges

        results: list = [None] * len(items)
        jobs: dict[int, tuple[np.ndarray, list[str]]] = {}
        for i, (header, frames) in enumerate(items):
            try:
                jobs[i] = self._encode_job(header, frames)
            except Exception as exc:  # noqa: BLE001 - this item's error reply
                results[i] = exc
        prompts = self._each("prompt", "extract", {i: (image,) for i, (image, streams) in jobs.items()
                                                   if "prompt" in streams}, results)
        edges = self._each("edges", "detect", {i: (image,) for i, (image, streams) in jobs.items()
                                               if "edge" in streams}, results)
        for i, (image, streams) in jobs.items():
            if results[i] is not None:
                continue
            produce = {
                "prompt": lambda: prompts[i].encode(),
                "edge": lambda: encode_edges(edges[i], compress=self.edge_format == "zlib"),
                "hint": lambda: encode_hint(ldm.make_hint(image, self.hint_side)),
                "latent": lambda: self.models["codec"].encode(image),
            }
            try:
                results[i] = ({"streams": streams, "prompt": prompts.get(i, "")}, [produce[s]() for s in streams])
            except Exception as exc:  # noqa: BLE001
                results[i] = exc
        return results

    def _encode_job(self, header: dict, frames: list[bytes]) -> tuple[np.ndarray, list[str]]:
        """An encode request's image and the streams it asks for."""
        h, w = int(header["h"]), int(header["w"])
        if len(frames) != 1 or len(frames[0]) != h * w * 3:
            raise ValueError(f"encode expects one raw RGB frame of {h}x{w}x3 bytes")
        streams = check_streams(header.get("streams", self.streams))
        missing = [s for s in streams if s not in self.streams]
        if missing:
            raise ValueError(f"this encoder was started for streams {self.streams}, not {missing}")
        return np.frombuffer(frames[0], dtype=np.uint8).reshape(h, w, 3), streams

    def generate(self, header: dict, frames: list[bytes]) -> tuple[dict, list[bytes]]:
        result = self.generate_batch([(header, frames)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def generate_batch(self, items: list[tuple[dict, list[bytes]]]) -> list:
        """generate() of each (header, frames), the generator run once on all that need it
        (base.call_many); one (meta, frames) or exception per item: an item that fails fails
        alone."""
        results: list = [None] * len(items)
        jobs: dict[int, dict] = {}
        for i, (header, frames) in enumerate(items):
            try:
                jobs[i] = self._prepare(header, frames)
            except Exception as exc:  # noqa: BLE001 - this item's error reply
                results[i] = exc
        images = {i: job["image"] for i, job in jobs.items() if job["gen"] is None}
        images.update(self._each("generator", "generate",
                                 {i: job["gen"] for i, job in jobs.items() if job["gen"] is not None}, results))
        for i, job in jobs.items():
            if results[i] is None:
                try:
                    results[i] = self._finish(job, images[i])
                except Exception as exc:  # noqa: BLE001
                    results[i] = exc
        return results

    def _each(self, role: str, method: str, calls: dict[int, tuple], results: list) -> dict:
        """{item: model role's <method>(*args)} for calls {item: args}, batched (base.call_many);
        if the batch fails, one by one, so that a bad item fails alone (its exception into
        results)."""
        from .backends.base import call_many

        model = self.models.get(role)
        if not calls:
            return {}
        try:
            return dict(zip(calls, call_many(model, method, list(calls.values()))))
        except Exception as exc:  # noqa: BLE001
            if len(calls) == 1:
                results[next(iter(calls))] = exc
                return {}
            log.exception("batch of %d %s.%s failed: one by one", len(calls), role, method)
        out = {}
        for i, args in calls.items():
            try:
                out[i] = getattr(model, method)(*args)
            except Exception as exc:  # noqa: BLE001 - this item's error reply
                results[i] = exc
        return out

    def _prepare(self, header: dict, frames: list[bytes]) -> dict:
        """A generate request's latent image (decoded) or generation job (prompt, edges, hint,
        seed, size): the unit's seed is derived from the agent's seed and the unit id alone."""
        got = dict(zip(header.get("streams", []), frames))
        h, w = int(header.get("h", 128)), int(header.get("w", 128))
        unit = int(header.get("unit", 0))
        # "raw": the image as the paper's data unit (24 bpp); "png": lossless and smaller.
        fmt = header.get("format", "png")
        if fmt not in ("png", "raw"):
            raise ValueError(f"unknown output format {fmt!r}; use 'png' or 'raw'")
        image, used, notes, gen = None, [], [], None
        if "latent" in got:
            image = self._decode_latent(got["latent"], notes)
            used += ["latent"] if image is not None else []
        if image is None:
            gen, used = self._conditioning(got, h, w, unit, notes)
        return {"h": h, "w": w, "format": fmt, "image": image, "used": used, "notes": notes, "gen": gen}

    def _finish(self, job: dict, image: np.ndarray) -> tuple[dict, list[bytes]]:
        from PIL import Image

        h, w, fmt = job["h"], job["w"], job["format"]
        if job["gen"] is not None and image.shape[:2] != (h, w):
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.LANCZOS))
        content = _png(image) if fmt == "png" else np.ascontiguousarray(image).tobytes()
        return ({"h": image.shape[0], "w": image.shape[1], "format": fmt, "used": job["used"],
                 "fallback": "; ".join(job["notes"]) or None}, [content])

    def _decode_latent(self, data: bytes, notes: list[str]):
        from .codec import BitstreamError

        if "codec" not in self.models:
            notes.append("latent stream received but no codec configured")
            return None
        try:
            return self.models["codec"].decode(data)
        except BitstreamError as exc:
            notes.append(f"latent undecodable ({exc})")
            return None

    def _conditioning(self, got: dict, h: int, w: int, unit: int, notes: list[str]):
        """The generator's job from whatever conditioning arrived (a lost stream is generated
        without), and the streams it uses."""
        from PIL import Image

        from .codec import BitstreamError
        from .semantics import decode_edges

        size = max(h, w)
        size += -size % 8  # the generators work on squares of a multiple of 8
        prompt = got.get("prompt", b"").decode("utf-8", errors="replace") if "prompt" in got else ""
        edges = hint = None
        if "edge" in got:
            try:
                edges = decode_edges(got["edge"])
                if edges.shape != (size, size):
                    edges = np.asarray(Image.fromarray(edges).resize((size, size), Image.NEAREST))
            except BitstreamError as exc:
                notes.append(f"edge map undecodable ({exc}): generated without it")
        if "hint" in got:
            hint = decode_hint(got["hint"], self.hint_side)
            if hint is None:
                notes.append("colour hint has the wrong size: generated without it")
        used = [s for s, v in (("prompt", prompt), ("edge", edges), ("hint", hint)) if v is not None and len(v)]
        seed = self.seed * 1_000_003 + unit
        return (prompt, edges, hint, seed, size), used


def _exit_with_parent() -> None:
    """The agent ends when the simulator does, however it ends (a native crash too): Linux sends
    SIGTERM at the parent's death (prctl PR_SET_PDEATHSIG), which exits through the normal path
    (sockets closed, socket folder removed). serve() also watches the parent pid."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass   # not Linux: the parent-pid watch in serve() still ends the agent within a second


def _remove_socket(endpoint: str) -> None:
    """The ipc socket file, and its folder when the launcher made it for this agent (gsc-*)."""
    if not endpoint.startswith("ipc://"):
        return
    path = Path(endpoint.removeprefix("ipc://"))
    path.unlink(missing_ok=True)
    if path.parent.name.startswith("gsc-"):
        try:
            path.parent.rmdir()
        except OSError:
            pass   # not empty, or already gone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--role", choices=["encoder", "generator", "meg"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--options", default="{}", help="JSON object of agent options")
    parser.add_argument("--idle-timeout", type=float, default=900.0,
                        help="exit after this many seconds without a request (orphan guard)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.role} %(levelname)s %(message)s")

    from ..bridge.schema import OPS
    from ..bridge.server import serve

    parent = os.getppid()
    _exit_with_parent()
    options = json.loads(args.options)
    if options.get("cores") and hasattr(os, "sched_setaffinity"):   # a worker of several: its share of the cores
        os.sched_setaffinity(0, [int(c) for c in options["cores"]])
        log.info("pinned to cores %s", sorted(os.sched_getaffinity(0)))
    if args.role == "meg":
        from .meg_split.agent import MegAgent

        agent = MegAgent(options)
        handlers = agent.handlers()
    else:
        agent = SemanticAgent(args.role, options)
        handlers = {"encoder": {"encode": agent.encode}, "generator": {"generate": agent.generate}}[args.role]
    batch = ({"encode": agent.encode_batch, "generate": agent.generate_batch}
             if args.role in ("encoder", "generator") else {})
    try:
        serve(args.endpoint, handlers, info={"role": args.role, **agent.info()}, idle_timeout_s=args.idle_timeout,
              ops=OPS[args.role], parent_pid=parent, batch_handlers=batch,
              max_batch=int(options.get("max_batch", 1)), batch_wait_ms=float(options.get("batch_wait_ms", 0.0)))
    finally:
        _remove_socket(args.endpoint)


if __name__ == "__main__":
    sys.exit(main())
