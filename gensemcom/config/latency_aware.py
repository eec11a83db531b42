"""Sections of the latency-aware scheme: Table I's link parameters and the sweep (Phi, Fig. 4)."""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from gensemcom.constants import TABLE_I

from .base import Section
from .engine import EngineConfig


class LatencyAwareConfig(Section):
    """Link parameters of the latency-aware scheme (Table I of the paper) for the analytic
    scenario `table2`."""

    prompt_bits: int = Field(TABLE_I["prompt_bits"], ge=8, description="Prompt size in bits, v0 in the paper (= packet length L, Table I).")
    edge_map_bits: int = Field(TABLE_I["edge_map_bits"], ge=8, description="Edge map size in bits, v1 in the paper (~7.86 kbit there).")
    code_rate: float = Field(TABLE_I["code_rate"], gt=0, le=1, description="Prompt code rate r.")
    prompt_qam: int = Field(TABLE_I["prompt_qam"], ge=2, description="Prompt modulation order M0.")
    per_k: float = Field(TABLE_I["per_k"], description="k of the PER model, Eq. (2).")
    per_b: float = Field(TABLE_I["per_b"], description="b of the PER model, Eq. (2).")
    alpha: float = Field(TABLE_I["alpha"], gt=0, description="alpha of the adaptive M-QAM rate, Eq. (4).")
    beta: float = Field(TABLE_I["beta"], gt=0, description="beta of the adaptive M-QAM rate, Eq. (4).")
    bandwidth_hz: list[Annotated[float, Field(gt=0)]] = Field([TABLE_I["bandwidth_hz"]] * 2, min_length=2, max_length=2, description="B0 (prompt), B1 (edge map).")
    p_total_w: float = Field(TABLE_I["p_total_w"], gt=0, description="Total transmit power P_T (Table I: 10 mW).")
    pathloss_ref_db: float = Field(TABLE_I["pathloss_ref_db"], description="Path loss epsilon_0 at the 1 m reference distance, in dB (Table I: -30 dB).")
    pathloss_exp: float = Field(TABLE_I["pathloss_exp"], gt=0, description="Path-loss exponent phi (Table I: 3.4).")
    n0_dbm_hz: float = Field(TABLE_I["n0_dbm_hz"], description="Noise power spectral density N0 (Table I: -174 dBm/Hz).")
    target_bers: list[float] = Field([1e-6, 1e-5, 1e-4], min_length=1, description="Edge-map BER targets, one Table II column each.")
    grid_db: float = Field(0.2, gt=0, description="Average-SNR grid of the table (the paper's steps are 0.2 dB).")
    max_avg_snr_db: float = Field(30.0, description="Upper end of the highest order's range.")

    @field_validator("prompt_qam")
    @classmethod
    def _qam_order(cls, m: int) -> int:
        if m & (m - 1):
            raise ValueError(f"an M-QAM order is a power of 2 (log2 M bits per symbol), got {m}")
        return m

    @model_validator(mode="after")
    def _bers_in_the_domain_of_eq4(self):
        bad = [b for b in self.target_bers if not 0 < b or self.beta * b >= 1]
        if bad:
            raise ValueError(f"target_bers: each BER must be > 0 with beta x BER < 1 (Eq. 4 needs -ln(beta BER) > 0; "
                             f"beta = {self.beta:g}), got {bad}")
        return self

    @model_validator(mode="after")
    def _per_in_the_domain_of_eq2(self):
        # PER = 1 - exp(-(k ln L + b) / SNR): at k ln L + b <= 0 no packet is ever lost, and the
        # SNR a PER target needs (the inverse) is negative.
        threshold = self.per_k * math.log(self.prompt_bits) + self.per_b
        if threshold <= 0:
            raise ValueError(f"per_b: Eq. 2 needs per_k x ln(prompt_bits) + per_b > 0 (per_k = {self.per_k:g}, "
                             f"prompt_bits = {self.prompt_bits}), got {self.per_b:g}")
        return self

class PhiConfig(Section):
    """Phi(BER) measurement of scenario latency_sweep (the paper's Fig. 2): quality of the
    generation vs random bit errors in the edge-map stream, with the configured models."""
    enabled: bool = Field(True, description="Measure Phi (runs the generator about len(images) x (1 + crops) x len(seeds) x (1 + formats x bers) times).")
    bers: list[float] = Field([1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], min_length=2,
                              description="Edge-map BERs to inject (each bit flipped independently).")
    seeds: list[Annotated[int, Field(ge=0)]] = Field([0, 1], min_length=1, description="Generator and error-pattern seeds per image.")
    crops_per_image: int = Field(1, ge=0, le=50, description="Random crops of each image added to the set.")
    formats: list[Literal["zlib", "raw"]] = Field(["zlib", "raw"], min_length=1,
                                                  description="Edge-map formats: zlib (compressed) and raw (packed bits, error-resilient).")
    clip_model: str | None = Field(None, description="HF id or local path of a real CLIP; null = the labelled CLIP substitute.")

    @field_validator("bers")
    @classmethod
    def _bers(cls, bers: list[float]) -> list[float]:
        if any(not 0 < b <= 0.5 for b in bers) or sorted(bers) != bers:
            raise ValueError(f"BERs must be increasing values in (0, 0.5]: {bers}")
        return bers

class PacketRun(Section):
    """One packet-level series of scenario latency_sweep."""
    scheme: Literal["discrete", "continuous"] = Field(description="discrete: Table II's M-QAM; continuous: the Eq. (4) rate.")
    fading: Literal["awgn", "rayleigh"] = Field(description="AWGN, or block Rayleigh fading.")

class LatencySweepConfig(Section):
    """Scenario latency_sweep: Table II, Phi(BER) (Fig. 2) and Fig. 4 with the packet-level
    semantic-link measurement; link parameters from the `latency_aware` section."""
    snr_db: list[float] = Field([0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0, 30.0], min_length=1,
                                description="Average SNRs of the packet-level points (dB).")
    packet_runs: list[PacketRun] = Field(
        default_factory=lambda: [PacketRun(scheme="discrete", fading="awgn"), PacketRun(scheme="discrete", fading="rayleigh"),
                                 PacketRun(scheme="continuous", fading="awgn")],
        description="Packet-level series, each a scheme and a fading.")
    units: int = Field(1000, ge=10, le=100_000, description="Units (prompt + edge map) per packet-level point.")
    outage_wait_s: float = Field(1e-3, gt=0, description="Wait before a new fading draw when no M-QAM order meets the BER.")
    agreement_tolerance: float = Field(0.05, gt=0, description="Relative gap packet-level vs analytic reported as agreement.")
    quality_targets: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        [0.70, 0.71], description="Normalised quality targets eps in (0, 1] for Lemma 1 with the measured Phi.")
    phi: PhiConfig = Field(default_factory=PhiConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Where the packet-level points and the Phi "
                                 "jobs (an image and a seed each) run: worker processes, resumable (docs/campaigns.md).")
