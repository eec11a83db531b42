"""The MEG protocols: each is three stages, UE -> ES(s) -> UE (ue_pre, es_ops, ue_post), with
the payload kind of the uplink and downlink message. The names are gensemcom.constants.MEG_PROTOCOLS
(a test holds the two together)."""
from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True)
class Protocol:
    name: str
    family: str                 # baseline | single_es | parallel | cooperative
    ue_pre: tuple[str, ...]
    uplink: str | None          # payload kind UE -> each ES (None: nothing is sent)
    es_ops: tuple[str, ...]
    downlink: str | None        # payload kind ES -> UE
    ue_post: tuple[str, ...]
    summary: str

    @property
    def multi_es(self) -> bool:
        return self.family in ("parallel", "cooperative")


def _p(name, family, ue_pre, uplink, es_ops, downlink, ue_post, summary):
    return Protocol(name, family, tuple(ue_pre), uplink, tuple(es_ops), downlink, tuple(ue_post), summary)


GENERATE = ("encode", "denoise", "decode")
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    _p("full_ue", "baseline", GENERATE, None, (), None, (),
       "the UE generates alone; nothing is transmitted"),
    _p("full_es", "baseline", (), "image", GENERATE, "image", (),
       "centralised: image (+ prompt) up, the ES generates, image down"),
    _p("uieg", "single_es", ("encode",), "latent", ("denoise", "decode"), "image", (),
       "UE inference, edge generation: latent up, image down"),
    _p("eiug", "single_es", (), "image", ("encode", "denoise"), "latent", ("decode",),
       "edge inference, UE generation: image up, generated latent down, UE decodes"),
    _p("ciag", "single_es", ("encode",), "latent", ("denoise",), "latent", ("decode",),
       "cooperative inference and generation: latent up, latent-to-latent at the ES, latent down"),
    _p("esuc", "single_es", (), "image", GENERATE + ("sketch",), "sketch", ("complete",),
       "edge sketch, UE complete: image up, low-resolution sketch down, UE completes it"),
    _p("uidg", "parallel", ("encode",), "latent", ("denoise", "decode"), "image", ("pick",),
       "latent to K ESs, each generates (own noise seed) and sends its image; the UE picks one"),
    _p("diug", "parallel", (), "image", ("encode", "denoise"), "latent", ("decode", "pick"),
       "task to K ESs, each returns a generated latent; the UE decodes them all and picks one"),
    _p("dsuc", "parallel", (), "image", GENERATE + ("sketch",), "sketch", ("pick", "complete"),
       "task to K ESs, each returns a sketch; the UE picks one and completes it"),
    _p("uidcg", "cooperative", ("encode", "split"), "latent_part", ("denoise",), "latent_part",
       ("merge", "decode"),
       "latent split into K overlapping row strips, ES k denoises strip k, the UE blends and decodes"),
    _p("dcsuc", "cooperative", ("split",), "image_part", GENERATE + ("sketch",), "sketch_part",
       ("merge", "complete"),
       "image split into K overlapping strips, ES k sketches strip k, the UE blends and completes"),
)}
COMBINE_OPS = ("pick", "merge")


def post_stages(protocol: Protocol) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """ue_post as (ops on every reply, combining op or None, ops on the combined value)."""
    ops = protocol.ue_post
    for i, op in enumerate(ops):
        if op in COMBINE_OPS:
            return ops[:i], op, ops[i + 1:]
    return ops, None, ()
