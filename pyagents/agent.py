"""Agent process: serves one role over the bridge.

    python -m gensemcom.agents.agent --role encoder|generator --endpoint ipc://... --options '{}'

encoder   (source side): image -> prompt text + edge map bitstream + latent bitstream
generator (GenAI node):  received streams -> reconstructed image (PNG bytes)
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys

import numpy as np

STREAMS = ("prompt", "edge", "latent")


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


class SemanticAgent:
    """Holds the models of one node; each method is one bridge op."""

    def __init__(self, options: dict):
        import torch

        from .codec import LatentCodec

        torch.set_num_threads(int(options.get("threads", 1)))
        torch.manual_seed(int(options.get("seed", 0)))
        self.codec = LatentCodec.load(options.get("codec_weights"))
        self.edge_sigma = float(options.get("edge_sigma", 2.0))

    def info(self) -> dict:
        return {"codec": self.codec.name}

    def encode(self, header: dict, frames: list[bytes]) -> tuple[dict, list[bytes]]:
        from .semantics import encode_edges, extract_edges, extract_prompt

        h, w = int(header["h"]), int(header["w"])
        if len(frames) != 1 or len(frames[0]) != h * w * 3:
            raise ValueError(f"encode expects one raw RGB frame of {h}x{w}x3 bytes")
        image = np.frombuffer(frames[0], dtype=np.uint8).reshape(h, w, 3)
        prompt = extract_prompt(image)
        edges = encode_edges(extract_edges(image, sigma=self.edge_sigma))
        latent = self.codec.encode(image)
        return {"streams": list(STREAMS), "prompt": prompt}, [prompt.encode(), edges, latent]

    def generate(self, header: dict, frames: list[bytes]) -> tuple[dict, list[bytes]]:
        from .codec import BitstreamError
        from .semantics import decode_edges

        got = dict(zip(header.get("streams", []), frames))
        h, w = int(header.get("h", 128)), int(header.get("w", 128))
        fallback = None
        image = None
        if "latent" in got:
            try:
                image = self.codec.decode(got["latent"])
            except BitstreamError as exc:
                fallback = f"latent undecodable ({exc}); "
        else:
            fallback = "latent missing; "
        used = ["latent"] if image is not None else []
        if image is None:
            # Structure-only reconstruction: the edge map on mid-grey, or grey if that fails too.
            image = np.full((h, w, 3), 128, np.uint8)
            try:
                edges = decode_edges(got["edge"])
                if edges.shape == (h, w):
                    image[edges] = 255
                    used.append("edge")
                    fallback += "edge map only"
                else:
                    fallback += "edge map has the wrong size: grey image"
            except (KeyError, BitstreamError) as exc:
                fallback += f"no usable edge map ({exc.__class__.__name__}): grey image"
        # "raw": the image as the paper's data unit (24 bpp); "png": lossless and smaller.
        fmt = header.get("format", "png")
        if fmt not in ("png", "raw"):
            raise ValueError(f"unknown output format {fmt!r}; use 'png' or 'raw'")
        content = _png(image) if fmt == "png" else np.ascontiguousarray(image).tobytes()
        return ({"h": image.shape[0], "w": image.shape[1], "format": fmt, "used": used,
                 "fallback": fallback}, [content])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--role", choices=["encoder", "generator"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--options", default="{}", help="JSON object of agent options")
    parser.add_argument("--idle-timeout", type=float, default=900.0,
                        help="exit after this many seconds without a request (orphan guard)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.role} %(levelname)s %(message)s")

    from ..bridge.server import serve

    agent = SemanticAgent(json.loads(args.options))
    handlers = {"encoder": {"encode": agent.encode}, "generator": {"generate": agent.generate}}
    serve(args.endpoint, handlers[args.role], info={"role": args.role, **agent.info()},
          idle_timeout_s=args.idle_timeout)


if __name__ == "__main__":
    sys.exit(main())
