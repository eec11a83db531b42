"""Sections of mobile edge generation: protocols, compute model, sweep."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gensemcom.constants import MEG_MULTI_ES, MEG_PROTOCOLS, MEG_SINGLE_ES

from .base import Section
from .engine import EngineConfig


class MegComputeConfig(Section):
    """Compute model of mobile edge generation: simulated time an op takes on a node (FIFO per
    node, so requests queue at a shared ES). Fixed defaults: this machine's single-thread CPU
    times of the gsc_ldm ops at 128 px, taken as the ES."""
    kind: Literal["fixed", "measured"] = Field(
        "fixed", description="fixed: the per-op times below (same seed => same traces); measured: the agents' "
                             "measured wall time x es_scale (x ue_slowdown on a UE; not reproducible).")
    encode_s: float = Field(0.04, ge=0, description="VAE encoder on one full image at an ES (fixed; strips pay their share).")
    denoise_step_s: float = Field(0.075, ge=0, description="One DDIM step with classifier-free guidance on a full latent at an ES (fixed).")
    decode_s: float = Field(0.045, ge=0, description="VAE decoder to one full image at an ES (fixed).")
    es_scale: float = Field(1.0, gt=0, description="measured: multiplier on an ES agent's measured wall time.")
    ue_slowdown: float = Field(4.0, ge=1, description="A UE op takes this many times as long as the same op on an ES (both kinds).")

def _distinct_protocols(protocols: list[str]) -> list[str]:
    if len(set(protocols)) != len(protocols):
        raise ValueError("protocols must be distinct")
    return protocols

class MegSweepConfig(Section):
    """Scenario `meg_sweep`: the `meg` section's run repeated over three series, each point one
    ns-3 simulation (the rest of the `meg` section applies to every point; meg.protocols,
    meg.ue_distances_m[1:], meg.num_es and meg.snr_db are set by the series). An empty list of
    values or protocols skips a series."""
    ue_counts: list[int] = Field([1, 2, 4, 8], description="Response time vs UEs sharing the edge servers: UEs per point "
                                 "(UE i at meg.ue_distances_m[i mod len]), at meg.snr_db.")
    ue_protocols: list[Literal[MEG_PROTOCOLS]] = Field(list(MEG_SINGLE_ES), description="Protocols of the UE series.")
    ue_num_es: int = Field(1, ge=1, le=8, description="Edge servers in the UE series (single-ES protocols: UE i uses es[i mod n]).")
    es_counts: list[int] = Field([2, 3, 4], description="Response time vs edge servers: ESs per point (one UE, at meg.snr_db).")
    es_protocols: list[Literal[MEG_MULTI_ES]] = Field(list(MEG_MULTI_ES), description="Protocols of the ES series (multi-ES only).")
    snr_db: list[float] = Field([-20.0, -10.0, 0.0, 10.0, 20.0], description="Quality vs feature-channel SNR: one point per "
                                "SNR (one UE), scored against the input and against a noiseless run (meg.reference).")
    snr_protocols: list[Literal[MEG_PROTOCOLS]] = Field(list(MEG_PROTOCOLS), description="Protocols of the SNR series.")
    snr_num_es: int = Field(2, ge=1, le=8, description="Edge servers in the SNR series.")

    engine: EngineConfig = Field(default_factory=EngineConfig, description="Where the points run: worker processes, each "
                                 "with its own UE-side and ES-side agents, resumable (docs/campaigns.md).")

    @field_validator("ue_counts", "es_counts")
    @classmethod
    def _counts(cls, counts: list[int]) -> list[int]:
        if len(set(counts)) != len(counts) or any(not 1 <= n <= 32 for n in counts):
            raise ValueError(f"must be distinct counts in [1, 32], got {counts}")
        return counts

    @field_validator("snr_db")
    @classmethod
    def _snrs(cls, snrs: list[float]) -> list[float]:
        if len(set(snrs)) != len(snrs) or any(not -40 <= s <= 60 for s in snrs):
            raise ValueError(f"must be distinct SNRs in [-40, 60] dB, got {snrs}")
        return snrs

    _distinct = field_validator("ue_protocols", "es_protocols", "snr_protocols")(_distinct_protocols)

class MegConfig(Section):
    """Mobile edge generation (scenario `meg`): text-guided image-to-image generation split
    between UEs and edge servers (ES) over LTE, one protocol after the other. Every UE sends
    every image of `images.names` (one request each, `images.interval_s` apart) in each protocol."""
    protocols: list[Literal[MEG_PROTOCOLS]] = Field(
        ["full_ue", "full_es", "uieg", "eiug", "ciag", "esuc"], min_length=1,
        description="Protocols to run, in this order: baselines full_ue, full_es (centralised); single-ES uieg, "
                    "eiug, ciag, esuc; multi-ES parallel uidg, diug, dsuc; multi-ES cooperative uidcg, dcsuc "
                    "(pyagents/meg_split/protocols.py says who computes and sends what).")
    ue_distances_m: list[float] = Field(
        [150.0], min_length=1, max_length=32,
        description="One UE per entry (ue0, ue1, ...) at that distance from the eNB; scenario meg uses these, not lte.ues.")
    num_es: int = Field(1, ge=1, le=8, description="Edge servers (es0, es1, ...), each behind the PGW on its own backhaul link "
                                                   "(the `backhaul` section). Single-ES protocols use es[i mod num_es] for UE i; "
                                                   "multi-ES protocols use all of them.")
    prompt: str = Field("a bright colourful photo", min_length=1, max_length=300,
                        description="Text command of every request (sent losslessly with the task, as in the paper).")
    strength: float = Field(0.375, gt=0, le=1, description="Image-to-image strength: the latent is noised to step N - round(strength N) "
                                                         "of the N-step schedule and denoised from there (SDEdit).")
    complete_strength: float = Field(0.25, gt=0, le=1, description="Strength of the UE's completion of a sketch (same rule).")
    sketch_side: int = Field(64, ge=8, le=1024, description="Side of an ES's sketch: its generated image box-filtered down to this size.")
    overlap_rows: int = Field(4, ge=0, le=64, description="Latent rows each strip of the cooperative protocols reaches into its "
                                                          "neighbour (blended with linear cross-fades); a multiple of 4 for gsc_ldm.")
    pick: Literal["closest", "first"] = Field(
        "closest", description="How the UE picks among K candidates (uidg, diug, dsuc): closest = lowest pixel MSE to its own "
                               "input image; first = the first reply to arrive (the UE finishes without waiting for the rest).")
    snr_db: float | None = Field(10.0, ge=-40, le=60, description="SNR of the AWGN feature channel over the radio: the receiver "
                                 "adds noise to the decoded latent / pixel values of each message (null: noiseless).")
    latent_format: Literal["float32", "float16", "uint8"] = Field(
        "float16", description="Serialisation of latents on the air (uint8: per-message affine quantisation).")
    image_format: Literal["raw", "png"] = Field("raw", description="Images and sketches on the air: raw 24-bit RGB, or PNG.")
    phase_gap_s: float = Field(0.2, ge=0, description="Idle time between one protocol's last request and the next protocol's first.")
    request_timeout_s: float = Field(5.0, gt=0, description="A request not finished this long after it was issued fails as 'timeout'.")
    reference: bool = Field(True, description="Also run every request with a noiseless channel outside ns-3, and score the "
                                              "delivered image against it as well as against the input image.")
    compute: MegComputeConfig = Field(default_factory=MegComputeConfig)
    sweep: MegSweepConfig = Field(default_factory=MegSweepConfig)

    _distinct = field_validator("protocols")(_distinct_protocols)
