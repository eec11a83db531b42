"""Sections of the semantic units: the images, the app that carries them, compute times,
the agent processes and their models, delivered bit errors, the simulation's drain time."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section, check_rate


class ImagesConfig(Section):
    names: list[str] = Field(
        ["barbara", "monarch", "kodim23"], min_length=1,
        description="Images sent as semantic units, by catalogue name (pyagents/DATA.md).")
    size: int = Field(128, ge=64, le=1024, description="Square side in pixels after centre crop/resize.")
    repeat: int = Field(1, ge=1, le=1000, description="Send the image list this many times.")
    start_s: float = Field(0.5, ge=0.1, description="Simulated time of the first unit (after LTE attach).")
    interval_s: float = Field(0.3, gt=0, description="Time between consecutive units of one source.")

class AppConfig(Section):
    streams: list[Literal["prompt", "edge", "hint", "latent"]] = Field(
        ["prompt", "edge", "hint"], min_length=1,
        description="Streams of each semantic unit, in send order (one port each): prompt = text from "
                    "models.prompt; edge = edge map from models.edges, losslessly coded; hint = 8x8 colour "
                    "thumbnail, raw 192 B; latent = models.codec bitstream (then the GenAI node decodes it "
                    "instead of generating, unless it is undecodable).")
    edge_format: Literal["zlib", "raw"] = Field(
        "zlib", description="Edge-map stream format: zlib (compressed; one bit error usually makes it undecodable, then the "
                            "generator goes without it) or raw (packed bits; a bit error is one wrong pixel).")
    segment_bytes: int = Field(1000, ge=64, le=1400, description="Payload bytes per packet (plus a 28-byte semantic header).")
    rate: str = Field("5Mbps", description="Pacing rate of each sender (keeps RLC buffers from overflowing).")
    unit_timeout_s: float = Field(2.0, gt=0, description="A unit not complete this long after its first packet is handed over incomplete.")
    _rate = field_validator("rate")(check_rate)

    @field_validator("streams")
    @classmethod
    def _distinct_streams(cls, streams: list[str]) -> list[str]:
        if len(set(streams)) != len(streams):
            raise ValueError(f"stream names must be distinct, got {streams}")
        return streams


class ComputeConfig(Section):
    kind: Literal["fixed", "measured"] = Field(
        "fixed", description="fixed: deterministic per-op times below (same seed => same traces); "
                             "measured: the agents' measured wall time x scale (not reproducible).")
    encode_s: float = Field(0.02, ge=0, description="Source encoding time per unit (fixed).")
    generate_s: float = Field(0.05, ge=0, description="Generation time per unit at the GenAI node (fixed).")
    scale: float = Field(1.0, gt=0, description="Multiplier on measured times (e.g. CPU -> GPU speed-up).")

class AgentsConfig(Section):
    timeout_s: float = Field(60.0, gt=0, description="Bridge reply timeout per attempt.")
    retries: int = Field(1, ge=0, le=10, description="Retries (fresh socket each) before an agent is declared dead.")
    ready_timeout_s: float = Field(180.0, gt=0, description="Time allowed for an agent to load its models.")
    threads: int = Field(1, ge=1, le=64, description="torch threads per agent.")
    pipeline: bool = Field(True, description="lte_edge: send each request without waiting for its reply: with compute.kind "
                                             "fixed a reply is joined only at its simulated finish time (ns-3 runs on "
                                             "meanwhile), and the source encodings are sent all at once. Same traces "
                                             "either way; false: every request blocks the run (the mode of before).")
    max_batch: int = Field(1, ge=1, le=256, description="lte_edge: each encoder and generator agent runs up to this "
                                                        "many queued requests as one batch (1: one at a time). Outputs "
                                                        "do not depend on the batch (per-unit seeds, batch-invariant "
                                                        "kernels on CPU).")
    workers: int = Field(1, ge=1, le=64, description="lte_edge: agent processes per role (encoder and generator); "
                                                     "each request goes to the role's live one with the fewest "
                                                     "outstanding; with several, each is pinned to its share of the "
                                                     "cores, and one that dies fails only the units it holds.")
    batch_wait_ms: float = Field(0.0, ge=0, le=10_000, description="lte_edge: how long an agent waits, after a "
                                                                   "request arrives, for more to fill a batch.")
    device: str | list[str] = Field(
        "auto", description="Where the agents' models run: \"auto\" (CUDA when torch sees one, else the CPU), \"cpu\", "
                            "\"cuda\" or \"cuda:N\", or a list with one entry per worker (agents.workers: worker k of "
                            "each role on entry k; the MEG agents and the run's metrics use the first). float16 on CUDA except the "
                            "codecs and metrics; a model spec's own device option wins. See README 'Models'.")

    @field_validator("device", mode="before")  # before: one line for any wrong type, not one per union member
    @classmethod
    def _device_names(cls, device):
        from gensemcom.agents.backends.device import DEVICE_NAMES, valid_device

        for name in device if isinstance(device, list) else [device]:
            if not valid_device(name):
                raise ValueError(f"must be {DEVICE_NAMES} or a list of them, got {name!r}")
        if isinstance(device, list) and not device:
            raise ValueError("a device list needs one entry per worker, got []")
        return device

    @model_validator(mode="after")
    def _one_device_per_worker(self):
        if isinstance(self.device, list) and len(self.device) != self.workers:
            raise ValueError(f"device: {len(self.device)} entries for {self.workers} worker(s) "
                             "(agents.workers); give one per worker or a single device")
        return self

    def devices(self) -> list[str]:
        """The device of worker k of each agent role, in worker order (one device: the same for all)."""
        return list(self.device) if isinstance(self.device, list) else [self.device] * self.workers

    def metrics_device(self):
        """The torch device the run's metrics (LPIPS, Inception, CLIP) use: the first entry,
        resolved on this machine (a BackendError where it has no such device)."""
        from gensemcom.agents.backends.device import resolve_device

        return resolve_device(self.devices()[0])

def _spec(role: str, default: str):
    return Field(default_factory=lambda: {"backend": default},
                 description=f"{role} backend spec: {{\"backend\": name, ...options}}; see README 'Models'.")

class ModelsConfig(Section):
    """One backend spec per model role (pyagents/backends); each role's offline default when omitted."""
    prompt: dict = _spec("Prompt extractor (efficientnet_lite0 | blip | descriptor)", "efficientnet_lite0")
    edges: dict = _spec("Edge detector (hed | canny | controlnet_hed)", "hed")
    text: dict = _spec("Text encoder for CLIP-substitute metrics (minilm | clip)", "minilm")
    codec: dict = _spec("Latent codec for the latent stream (learned | jpeg | compressai_zoo)", "learned")
    generator: dict = _spec("Generator at the GenAI node (gsc_ldm | sd_controlnet | hint_upsample | edge_fill)", "gsc_ldm")
    split: dict = _spec("Split model for mobile edge generation (gsc_ldm | sd_split)", "gsc_ldm")

    @model_validator(mode="after")
    def _known_backends(self):
        from gensemcom.agents.backends import OPTIONS, available, unknown_options

        for role in ("prompt", "edges", "text", "codec", "generator", "split"):
            spec = getattr(self, role)
            name = spec.get("backend")
            if not isinstance(name, str) or name not in available(role):
                raise ValueError(f"{role}.backend: must be one of {available(role)}, got {name!r}")
            for option in unknown_options(role, spec):
                raise ValueError(f"{role}.{option}: backend {name} has no such option; its options: "
                                 f"{list(OPTIONS[role, name])}")
        return self

class BitErrorsConfig(Section):
    ber: float = Field(0.0, ge=0, le=0.5, description="Residual bit error rate of payloads received by the GenAI node (flipped, not dropped).")

class SimConfig(Section):
    drain_s: float = Field(3.0, gt=0, description="Longest simulated time after the last unit is sent; the run stops earlier once every unit is delivered or failed. Units still in flight then are 'undelivered_*'.")
