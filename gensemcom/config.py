"""Scenario configuration: a JSON file validated against this schema before ns-3 starts.

Every key is documented by its Field description; `python -m gensemcom config-doc` prints the
reference that configs/README.md holds. Unknown keys are errors (a typo must not silently
fall back to a default).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gensemcom.constants import MEG_MULTI_ES, MEG_PROTOCOLS, MEG_SINGLE_ES, TABLE_I
from gensemcom.core import registry

_RATE = re.compile(r"^\d+(\.\d+)?(bps|kbps|Kbps|Mbps|Gbps)$")
_KEY_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): ")


class ConfigError(ValueError):
    """Invalid configuration; the message names the offending key(s), one line each."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _check_rate(value: str) -> str:
    if not _RATE.match(value):
        raise ValueError(f"data rate must look like '5Mbps' or '100kbps', got {value!r}")
    return value


class ImagesConfig(_Strict):
    names: list[str] = Field(
        ["barbara", "monarch", "kodim23"], min_length=1,
        description="Images sent as semantic units, by catalogue name (pyagents/DATA.md).")
    size: int = Field(128, ge=64, le=1024, description="Square side in pixels after centre crop/resize.")
    repeat: int = Field(1, ge=1, le=1000, description="Send the image list this many times.")
    start_s: float = Field(0.5, ge=0.1, description="Simulated time of the first unit (after LTE attach).")
    interval_s: float = Field(0.3, gt=0, description="Time between consecutive units of one source.")


# ns-3 attributes of each path-loss model. Checked here because ns-3 aborts the whole process
# on an unknown attribute name.
PATHLOSS_ATTRIBUTES = {
    "friis": {"Frequency", "SystemLoss", "MinLoss"},
    "log_distance": {"Exponent", "ReferenceDistance", "ReferenceLoss"},
    "three_log_distance": {"Distance0", "Distance1", "Distance2", "Exponent0", "Exponent1",
                           "Exponent2", "ReferenceLoss"},
    "cost231": {"Lambda", "Frequency", "BSAntennaHeight", "SSAntennaHeight", "MinDistance"},
    "okumura_hata": {"Frequency", "Environment", "CitySize"},
}


class PropagationConfig(_Strict):
    model: Literal["friis", "log_distance", "three_log_distance", "cost231", "okumura_hata"] = Field(
        "log_distance", description="ns-3 path-loss model (see README: swapping the channel).")
    attributes: dict[str, float | int | str] = Field(
        {"Exponent": 3.4, "ReferenceLoss": 30.0},
        description="ns-3 attributes of that model, by their ns-3 names.")

    @model_validator(mode="after")
    def _known_attributes(self):
        known = PATHLOSS_ATTRIBUTES[self.model]
        unknown = sorted(set(self.attributes) - known)
        if unknown:
            raise ValueError(f"{self.model} has no attribute(s) {unknown}; known: {sorted(known)}")
        return self


class FadingConfig(_Strict):
    model: Literal["none", "EPA", "EVA", "ETU"] = Field(
        "EVA", description="3GPP multipath profile of the generated Jakes fading trace, or none.")
    speed_kmh: float = Field(36.0, ge=0, le=500, description="UE speed setting the Doppler spread (36 km/h at 2.12 GHz = 70 Hz, the 3GPP EVA70 condition).")
    trace_s: float = Field(10.0, ge=1.0, le=60.0, description="Length of the generated trace.")


class UeConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Node name in traces.")
    distance_m: float = Field(gt=0, le=100000, description="Distance to the eNB.")
    role: Literal["source", "sink"] = Field(description="source: sends units; sink: receives generated content.")


class LteConfig(_Strict):
    bandwidth_rb: Literal[6, 15, 25, 50, 75, 100] = Field(25, description="UL and DL bandwidth in resource blocks.")
    earfcn_dl: int = Field(100, ge=0, le=65535, description="DL EARFCN (UL is DL + 18000).")
    enb_tx_power_dbm: float = Field(30.0, ge=-30, le=60, description="eNB transmit power.")
    ue_tx_power_dbm: float = Field(23.0, ge=-30, le=40, description="UE transmit power.")
    scheduler: Literal["pf", "rr", "fdmt", "tdmt"] = Field("pf", description="MAC scheduler (proportional fair, round robin, max throughput).")
    amc: Literal["mi", "piro"] = Field("mi", description="AMC model: mutual-information based (mi) or PiroEW2010.")
    harq: bool = Field(True, description="HARQ retransmissions at the MAC.")
    rlc: Literal["am", "um", "sm", "per_stream"] = Field(
        "am", description="RLC mode of the bearers: acknowledged, unacknowledged, saturation, or per_stream: the prompt on "
                          "the default bearer (RLC AM), the conditioning streams uplink on a dedicated QCI 7 bearer (RLC UM).")
    propagation: PropagationConfig = Field(default_factory=PropagationConfig)
    fading: FadingConfig = Field(default_factory=FadingConfig)
    ues: list[UeConfig] = Field(
        default_factory=lambda: [UeConfig(name="ue_tx", distance_m=300.0, role="source"),
                                 UeConfig(name="ue_rx", distance_m=150.0, role="sink")],
        min_length=2, description="User equipment: at least one source and exactly one sink.")

    @model_validator(mode="after")
    def _roles(self):
        names = [u.name for u in self.ues]
        if len(set(names)) != len(names):
            raise ValueError("UE names must be unique")
        if sum(u.role == "sink" for u in self.ues) != 1:
            raise ValueError("exactly one UE must have role 'sink'")
        if not any(u.role == "source" for u in self.ues):
            raise ValueError("at least one UE must have role 'source'")
        return self


class BackhaulConfig(_Strict):
    rate: str = Field("1Gbps", description="PGW - edge server point-to-point link rate.")
    delay_ms: float = Field(5.0, ge=0, le=1000, description="One-way delay of that link.")
    _rate = field_validator("rate")(_check_rate)


class AppConfig(_Strict):
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
    _rate = field_validator("rate")(_check_rate)


class ComputeConfig(_Strict):
    kind: Literal["fixed", "measured"] = Field(
        "fixed", description="fixed: deterministic per-op times below (same seed => same traces); "
                             "measured: the agents' measured wall time x scale (not reproducible).")
    encode_s: float = Field(0.02, ge=0, description="Source encoding time per unit (fixed).")
    generate_s: float = Field(0.05, ge=0, description="Generation time per unit at the GenAI node (fixed).")
    scale: float = Field(1.0, gt=0, description="Multiplier on measured times (e.g. CPU -> GPU speed-up).")


class AgentsConfig(_Strict):
    timeout_s: float = Field(60.0, gt=0, description="Bridge reply timeout per attempt.")
    retries: int = Field(1, ge=0, le=10, description="Retries (fresh socket each) before an agent is declared dead.")
    ready_timeout_s: float = Field(180.0, gt=0, description="Time allowed for an agent to load its models.")
    threads: int = Field(1, ge=1, le=64, description="torch threads per agent.")


def _spec(role: str, default: str):
    return Field(default_factory=lambda: {"backend": default},
                 description=f"{role} backend spec: {{\"backend\": name, ...options}}; see README 'Models'.")


class ModelsConfig(_Strict):
    """One backend spec per model role (pyagents/backends); each role's offline default when omitted."""
    prompt: dict = _spec("Prompt extractor (efficientnet_lite0 | blip | descriptor)", "efficientnet_lite0")
    edges: dict = _spec("Edge detector (hed | canny | controlnet_hed)", "hed")
    text: dict = _spec("Text encoder for CLIP-substitute metrics (minilm | clip)", "minilm")
    codec: dict = _spec("Latent codec for the latent stream (learned | jpeg | compressai_zoo)", "learned")
    generator: dict = _spec("Generator at the GenAI node (gsc_ldm | sd_controlnet | hint_upsample | edge_fill)", "gsc_ldm")
    split: dict = _spec("Split model for mobile edge generation (gsc_ldm | sd_split)", "gsc_ldm")

    @model_validator(mode="after")
    def _known_backends(self):
        from gensemcom.agents.backends import available

        for role in ("prompt", "edges", "text", "codec", "generator", "split"):
            spec = getattr(self, role)
            name = spec.get("backend")
            if not isinstance(name, str) or name not in available(role):
                raise ValueError(f"{role}.backend must be one of {available(role)}, got {name!r}")
        return self


class BitErrorsConfig(_Strict):
    ber: float = Field(0.0, ge=0, le=0.5, description="Residual bit error rate of payloads received by the GenAI node (flipped, not dropped).")


class LatencyAwareConfig(_Strict):
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
    bandwidth_hz: list[float] = Field([TABLE_I["bandwidth_hz"]] * 2, min_length=2, max_length=2, description="B0 (prompt), B1 (edge map).")
    p_total_w: float = Field(TABLE_I["p_total_w"], gt=0, description="Total transmit power P_T (Table I: 10 mW).")
    pathloss_ref_db: float = Field(TABLE_I["pathloss_ref_db"], description="Path loss epsilon_0 at the 1 m reference distance, in dB (Table I: -30 dB).")
    pathloss_exp: float = Field(TABLE_I["pathloss_exp"], gt=0, description="Path-loss exponent phi (Table I: 3.4).")
    n0_dbm_hz: float = Field(TABLE_I["n0_dbm_hz"], description="Noise power spectral density N0 (Table I: -174 dBm/Hz).")
    target_bers: list[float] = Field([1e-6, 1e-5, 1e-4], min_length=1, description="Edge-map BER targets, one Table II column each.")
    grid_db: float = Field(0.2, gt=0, description="Average-SNR grid of the table (the paper's steps are 0.2 dB).")
    max_avg_snr_db: float = Field(30.0, description="Upper end of the highest order's range.")

    @field_validator("target_bers")
    @classmethod
    def _bers(cls, bers: list[float]) -> list[float]:
        bad = [b for b in bers if not 0 < b < 0.2]
        if bad:
            raise ValueError(f"BER targets must be in (0, 0.2) so that -ln(beta BER) > 0: {bad}")
        return bers


class SemanticLinkConfig(_Strict):
    """The paper's semantic link (channel "semantic_link"): source "tx" -> GenAI receiver "rx",
    one orthogonal sub-channel per stream of app.streams; the first stream (the prompt) uses
    CRC + ARQ (Eq. 2-3), the others adaptive M-QAM with bit errors delivered (Eq. 4). Code rate,
    modulation, PER and M-QAM constants come from the `latency_aware` section (Table I)."""
    avg_snr_db: float = Field(15.0, ge=-20, le=60, description="Average SNR P_T E|h|^2 / (B_total N0); sets the distance (Eq. 1).")
    fading: Literal["rayleigh", "awgn"] = Field("rayleigh", description="Block Rayleigh fading (one draw per stream block / ARQ attempt) or AWGN.")
    bandwidth_hz: float = Field(TABLE_I["bandwidth_hz"], gt=0, description="Bandwidth of each stream's sub-channel.")
    target_ber: float = Field(1e-5, gt=0, lt=0.2, description="BER target of the conditioning streams.")
    allocation: Literal["lemma1", "table2", "equal"] = Field(
        "lemma1", description="Power split of P_T: lemma1 = latency-optimal with continuous rates (Eq. 4, any number of "
                              "streams); table2 = discrete M-QAM per Table II (prompt + one conditioning stream); equal.")
    power_w: float = Field(TABLE_I["p_total_w"], gt=0, description="Total transmit power P_T.")
    coherence_s: float = Field(0.0, ge=0, description="Fading block length; 0 = one block per burst of packets of a stream.")


class PhiConfig(_Strict):
    """Phi(BER) measurement of scenario latency_sweep (the paper's Fig. 2): quality of the
    generation vs random bit errors in the edge-map stream, with the configured models."""
    enabled: bool = Field(True, description="Measure Phi (runs the generator about len(images) x (1 + crops) x len(seeds) x (1 + formats x bers) times).")
    bers: list[float] = Field([1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], min_length=2,
                              description="Edge-map BERs to inject (each bit flipped independently).")
    seeds: list[int] = Field([0, 1], min_length=1, description="Generator and error-pattern seeds per image.")
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


class PacketRun(_Strict):
    """One packet-level series of scenario latency_sweep."""
    scheme: Literal["discrete", "continuous"] = Field(description="discrete: Table II's M-QAM; continuous: the Eq. (4) rate.")
    fading: Literal["awgn", "rayleigh"] = Field(description="AWGN, or block Rayleigh fading.")


class LatencySweepConfig(_Strict):
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
    quality_targets: list[float] = Field([0.70, 0.71], description="Normalised quality targets eps for Lemma 1 with the measured Phi.")
    phi: PhiConfig = Field(default_factory=PhiConfig)



class GnlEdge(_Strict):
    """One directed link of a generative-network-layer topology (an ns-3 point-to-point link)."""

    u: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="Tail node.")
    v: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="Head node.")
    capacity: float = Field(gt=0, description="Capacity u -> v in bpp per period (payload bits; headers are added on the wire).")
    delay_ms: float | None = Field(None, ge=0, description="Propagation delay; default gnl.delay_ms.")


class GnlConfig(_Strict):
    """Generative network layer in ns-3 (scenarios gnl_fig1 / gnl_flow). Capacities are in bits
    per pixel of one image per `period_s`, as in the paper (c_sg = 3.184 bpp there). Without
    `edges` the topology is the paper's Fig. 1 built from c_sr, c_rd, c_sg, c_gd."""

    c_sr: float = Field(1.0, gt=0, description="Capacity source -> relay (bpp per period).")
    c_rd: float = Field(1.0, gt=0, description="Capacity relay -> destination (bpp per period).")
    c_sg: float = Field(3.184, gt=0, description="Capacity source -> GenAI node (bpp per period).")
    c_gd: float = Field(24.0, gt=0, description="Capacity GenAI node -> destination (bpp per period).")
    delay_ms: float = Field(5.0, ge=0, description="Propagation delay of every link.")
    period_s: float = Field(1.0, gt=0, description="Time unit of the capacities: c bpp = c*H*W bits per period.")
    rate_factor: float = Field(1.0, gt=0, description="Prompt rate as a multiple of the optimal lambda_g of each GenAI node (Eq. 4 on Fig. 1, the LP otherwise); > 1 overloads the GenAI nodes' output links.")
    warmup_units: int = Field(2, ge=0, description="Units left out at the start of the rate measurement.")
    ps_gamma: float = Field(0.0, ge=0, lt=1, description="Pixel swapping: fraction of original pixels sent with each prompt (second stream) and swapped in at g; 0 = latent prompt only.")
    prompting: Literal["explicit", "hybrid", "implicit"] = Field(
        "explicit", description="explicit: the latent prompt (+ PS with ps_gamma > 0); hybrid: the latent + the original "
                                "reduced by hybrid_factor, whose low-pass band g puts into the generated image; implicit: frames of "
                                "camera pans sent raw, all but every implicit_keep_every-th omitted, g predicting each frame that "
                                "misses its deadline from the frames received before it (one GenAI node).")
    hybrid_factor: int = Field(8, ge=1, le=64, description="Hybrid prompting: downsampling factor of the reduced original (24/factor^2 bpp).")
    implicit_keep_every: int = Field(4, ge=1, le=64, description="Implicit prompting: s sends frame i of a pan iff i % k == 0 (L_p = 24/k bpp when k divides implicit_frames).")
    implicit_frames: int = Field(12, ge=2, le=500, description="Implicit prompting: frames per camera pan (one pan per image in `images`).")
    implicit_step: list[float] = Field([0.0, 3.0], min_length=2, max_length=2,
                                       description="Implicit prompting: pan motion (dy, dx) in pixels per frame.")
    implicit_deadline_periods: float = Field(3.0, gt=0, description="Implicit prompting: g decides on frame n this many periods after s's slot for it: the frame if it has arrived, else a prediction.")
    prompt_loss_rate: float = Field(0.0, ge=0, lt=1, description="Packet error rate on every link into a GenAI node (ns-3 RateErrorModel): prompts that arrive incomplete.")
    edges: list[GnlEdge] | None = Field(
        None, description="A general topology instead of Fig. 1: directed links; the source is node s, the destination d, "
                          "the GenAI nodes `genai_nodes`, every other node a relay. c_sr .. c_gd are then unused. ns-3 routes by "
                          "destination: two paths of one flow that end on the same link must not split earlier (the run says where).")
    genai_nodes: list[str] = Field(["g"], min_length=1, description="GenAI nodes (names in the topology).")

    @model_validator(mode="after")
    def _topology(self):
        if self.ps_gamma > 0 and self.prompting != "explicit":
            raise ValueError(f"ps_gamma: pixel swapping is an explicit prompt, not {self.prompting}")
        if self.prompting == "implicit" and len(self.genai_nodes) != 1:
            raise ValueError("prompting: implicit needs one GenAI node (it predicts from the frames of one sequence)")
        if len(set(self.genai_nodes)) != len(self.genai_nodes) or {"s", "d"} & set(self.genai_nodes):
            raise ValueError(f"genai_nodes: distinct nodes other than s and d, got {self.genai_nodes}")
        if self.edges is None:
            if self.genai_nodes != ["g"]:
                raise ValueError("genai_nodes: the Fig. 1 topology (no `edges`) has one GenAI node, g")
            return self
        pairs = [(e.u, e.v) for e in self.edges]
        nodes = {n for pair in pairs for n in pair}
        if len(set(pairs)) != len(pairs) or any(u == v for u, v in pairs):
            raise ValueError("edges: each directed link once, no self-loops")
        missing = [n for n in ("s", "d", *self.genai_nodes) if n not in nodes]
        if missing:
            raise ValueError(f"edges: the topology has no node {missing} (source s, destination d, genai_nodes)")
        return self


GNL_CODEC_RATES = ("low", "medium", "high")


class GnlSweepConfig(_Strict):
    """Scenario gnl_sweep: the generative network layer's rate-distortion / rate-perception curves
    (PE, PS, hybrid and implicit prompting, JPEG) measured on `images` + crops (implicit: pan
    sequences over `images`), fitted, and the prompt-size optimisation on Fig. 1
    with the capacities of section `gnl` (paper Figs. 2-4)."""

    codec_rates: list[str] = Field(list(GNL_CODEC_RATES), min_length=2,
                                   description="Learned-codec rate points: PE's measured points and the base of one PS curve each.")
    ps_gammas: list[float] = Field([0.02, 0.05, 0.1, 0.25, 0.5], min_length=1,
                                   description="Pixel-swapping fractions gamma in (0, 1) measured per PS curve (gamma 0 is the base codec, gamma 1 the exact end point).")
    jpeg_qualities: list[int] = Field([1, 5, 10, 20, 40, 75, 90], min_length=2,
                                      description="JPEG qualities of the JPEG curve (PIL, 4:2:0).")
    jpeg_ps_quality: int = Field(20, ge=1, le=95, description="JPEG quality under the JPEG pixel-swapping curve.")
    crops_per_image: int = Field(11, ge=0, le=200, description="Random crops of each image added to the set (as rate_quality; FID needs samples).")
    hybrid_factors: list[int] = Field([16, 8, 4, 2], min_length=1,
                                      description="Hybrid prompting (curves hybrid_<rate>): downsampling factors (2..256) of the reduced original sent raw "
                                                  "with the latent, 24 / factor^2 bpp + an 11-byte header (factor 1, the original itself, is the exact end point).")
    implicit_frames: int = Field(12, ge=2, le=200,
                                 description="Implicit prompting (curve implicit): frames of the camera-pan sequence made from each image of `images`.")
    implicit_step: list[float] = Field([0.0, 3.0], min_length=2, max_length=2,
                                       description="Implicit prompting: the pan's motion (dy, dx) in pixels per frame (each at most 32 in magnitude, not both 0).")
    implicit_keep_every: list[int] = Field([2, 3, 4, 6, 12], min_length=1,
                                           description="Implicit prompting: frame i reaches g iff i % k == 0, the others are predicted; one curve point per k "
                                                       "(2..implicit_frames; prompt size 24 bpp x frames sent / all frames, = 24 / k when k divides implicit_frames).")
    families: dict[str, str] = Field(
        {}, description="Function family per curve and metric, e.g. {\"ps_low.D\": \"linear\"}: curves pe, ps_<rate>, hybrid_<rate>, implicit, jpeg, jpeg_ps; "
                        "metrics D (distortion), P (perception); families linear, quadratic, exponential, power, logistic; "
                        "unlisted or \"auto\": the largest adjusted r^2.")
    weights: list[float] = Field([0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1, 2, 5, 10, 20], min_length=1,
                                 description="Quality weights w of Fig. 4a/4b (at gnl.c_sg).")
    claim_weights: list[float] = Field([0.1, 0.5, 0.9], min_length=1,
                                       description="The low / middle / high quality weights of the claims check and the c_sg sweep.")
    c_sg_values: list[float] = Field([0.5, 1, 2, 3.184, 4, 6, 8, 12], min_length=1,
                                     description="Capacities s -> g (bpp per period) of the c_sg sweep.")
    optimiser_grid: int = Field(64, ge=8, le=2000, description="Log-spaced prompt sizes the optimiser scans before refining.")

    @field_validator("codec_rates")
    @classmethod
    def _rates(cls, rates: list[str]) -> list[str]:
        bad = [r for r in rates if r not in GNL_CODEC_RATES]
        if bad or len(set(rates)) != len(rates):
            raise ValueError(f"distinct learned rate points out of {list(GNL_CODEC_RATES)}")
        return rates

    @field_validator("ps_gammas")
    @classmethod
    def _gammas(cls, gammas: list[float]) -> list[float]:
        if any(not 0 < g < 1 for g in gammas) or len(set(gammas)) != len(gammas):
            raise ValueError("distinct fractions strictly between 0 and 1")
        return sorted(gammas)

    @field_validator("hybrid_factors")
    @classmethod
    def _hybrid_factors(cls, factors: list[int]) -> list[int]:
        if any(not 2 <= f <= 256 for f in factors) or len(set(factors)) != len(factors):
            raise ValueError("distinct downsampling factors in 2..256 (factor 1 is the exact end point)")
        return sorted(factors, reverse=True)

    @field_validator("implicit_step")
    @classmethod
    def _implicit_step(cls, step: list[float]) -> list[float]:
        if not all(abs(v) <= 32 for v in step) or not any(step):
            raise ValueError("(dy, dx) pixels per frame, each |value| <= 32, not both 0 (a still image is predicted exactly)")
        return step

    @field_validator("implicit_keep_every")
    @classmethod
    def _keep_every(cls, ks: list[int], info) -> list[int]:
        n = info.data.get("implicit_frames")
        top = n if n is not None else 200
        if any(not 2 <= k <= top for k in ks) or len(set(ks)) != len(ks):
            raise ValueError(f"distinct periods k in 2..implicit_frames ({top}); k = 1 (every frame sent) is the exact end point")
        return sorted(ks)

    @field_validator("jpeg_qualities")
    @classmethod
    def _qualities(cls, qualities: list[int]) -> list[int]:
        if any(not 1 <= q <= 95 for q in qualities) or len(set(qualities)) != len(qualities):
            raise ValueError("distinct JPEG qualities in 1..95")
        return sorted(qualities)

    @field_validator("weights", "claim_weights", "c_sg_values")
    @classmethod
    def _positive_lists(cls, values: list[float], info) -> list[float]:
        ok = (lambda v: v > 0) if info.field_name == "c_sg_values" else (lambda v: v >= 0)  # noqa: E731
        if not all(ok(v) for v in values) or len(set(values)) != len(values):
            raise ValueError(f"distinct values {'> 0' if info.field_name == 'c_sg_values' else '>= 0'}")
        return sorted(values)

    @field_validator("families")
    @classmethod
    def _families(cls, families: dict[str, str], info) -> dict[str, str]:
        from gensemcom.analysis.curve_fits import FAMILIES
        from gensemcom.analysis.gnl_curves import curve_names

        curves = curve_names(info.data.get("codec_rates") or list(GNL_CODEC_RATES))
        for key, family in families.items():
            curve, _, metric = key.partition(".")
            if curve not in curves or metric not in ("D", "P"):
                raise ValueError(f"key {key!r} is not <curve>.<D|P> with curve in {curves}")
            if family != "auto" and family not in FAMILIES:
                raise ValueError(f"{key}: family must be 'auto' or one of {sorted(FAMILIES)}, got {family!r}")
        return families


class RateQualityConfig(_Strict):
    """Settings of scenario `rate_quality` (images: the `images` section; models: `models`)."""
    codecs: list[dict] = Field(
        [{"backend": "learned", "rate": "low"}, {"backend": "learned", "rate": "medium"},
         {"backend": "learned", "rate": "high"}],
        description="Codec backend specs to measure (optional 'label' key names the curve point).")
    jpeg_qualities: list[int] = Field([1, 2, 3, 5, 10, 20, 30, 50, 75, 90], min_length=2,
                                      description="JPEG baseline qualities (PIL, optimize=True, 4:2:0).")
    generators: list[dict] = Field(
        [{"backend": "gsc_ldm"}, {"backend": "hint_upsample"}, {"backend": "edge_fill"}],
        description="Generator backend specs, fed prompt + edge map + colour hint from models.prompt/edges.")
    crops_per_image: int = Field(11, ge=0, le=200,
                                 description="Random crops of each image added to the set (FID/KID need samples).")
    clip_model: str | None = Field(None, description="HF id or local path of a real CLIP; null = the labelled CLIP substitute.")

    @field_validator("codecs", "generators")
    @classmethod
    def _backends(cls, specs: list[dict], info) -> list[dict]:
        from gensemcom.agents.backends import available

        role = "codec" if info.field_name == "codecs" else "generator"
        for spec in specs:
            if spec.get("backend") not in available(role):
                raise ValueError(f"{role} backend must be one of {available(role)}, got {spec.get('backend')!r}")
        return specs




class MegComputeConfig(_Strict):
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


class MegSweepConfig(_Strict):
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


class MegConfig(_Strict):
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


class SimConfig(_Strict):
    drain_s: float = Field(3.0, gt=0, description="Longest simulated time after the last unit is sent; the run stops earlier once every unit is delivered or failed. Units still in flight then are 'undelivered_*'.")


class Config(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Run name: results go to <output_dir>/<name>/<timestamp>/.")
    seed: int = Field(1, ge=1, description="Seed of ns-3's RNG (run number) and of the agents and traces.")
    scenario: str = Field("lte_edge", description="The scenario to run: one of the table above (`python -m gensemcom "
                                                  "scenarios`), which also says which sections each reads; any other "
                                                  "section is an error.")
    output_dir: str = Field("results", description="Results root, relative to the repository.")
    channel: str = Field(
        "lte", description="Channel of scenario lte_edge: lte (UEs, eNB, EPC, backhaul, edge server; section lte) "
                           "or semantic_link (the latency-aware paper's link, the receiver generates; section semantic_link).")
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    lte: LteConfig = Field(default_factory=LteConfig)
    backhaul: BackhaulConfig = Field(default_factory=BackhaulConfig)
    app: AppConfig = Field(default_factory=AppConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    bit_errors: BitErrorsConfig = Field(default_factory=BitErrorsConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    latency_aware: LatencyAwareConfig = Field(default_factory=LatencyAwareConfig)
    latency_sweep: LatencySweepConfig = Field(default_factory=LatencySweepConfig)
    semantic_link: SemanticLinkConfig = Field(default_factory=SemanticLinkConfig)
    gnl: GnlConfig = Field(default_factory=GnlConfig)
    gnl_sweep: GnlSweepConfig = Field(default_factory=GnlSweepConfig)
    rate_quality: RateQualityConfig = Field(default_factory=RateQualityConfig)
    meg: MegConfig = Field(default_factory=MegConfig)

    def resolved_json(self) -> str:
        """This config with every default filled in, limited to the sections its scenario reads
        (so that it is itself a valid config: the same run again)."""
        keys = registry.COMMON_KEYS + registry.SCENARIOS[self.scenario].sections
        return self.model_dump_json(indent=2, include=set(keys))

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, name: str) -> str:
        if name not in registry.SCENARIOS:
            raise ValueError(f"unknown scenario; known: {sorted(registry.SCENARIOS)}")
        return name

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, name: str) -> str:
        if name not in registry.CHANNELS:
            raise ValueError(f"unknown channel; known: {sorted(registry.CHANNELS)}")
        return name

    @model_validator(mode="after")
    def _sections_of_the_scenario(self):
        """A section the scenario does not read is a mistake (it would silently do nothing)."""
        entry = registry.SCENARIOS[self.scenario]
        unused = sorted(k for k in self.model_fields_set if k not in registry.COMMON_KEYS + entry.sections)
        if unused:
            raise ValueError("\n".join(f"{k}: scenario {self.scenario} does not use this section" for k in unused))
        return self

    @field_validator("images")
    @classmethod
    def _known_images(cls, images: ImagesConfig) -> ImagesConfig:
        from gensemcom.agents.images import names as catalogue_names

        known = set(catalogue_names("train")) | set(catalogue_names("heldout"))
        unknown = [n for n in images.names if n not in known]
        if unknown:
            raise ValueError(f"unknown image(s) {unknown}; known: {sorted(known)}")
        return images

    @model_validator(mode="after")
    def _semantic_link(self):
        if self.channel != "semantic_link":
            return self
        if self.scenario != "lte_edge":
            raise ValueError(f"channel: semantic_link is a channel of scenario lte_edge, not {self.scenario}")
        streams = self.app.streams
        if streams[0] != "prompt":
            raise ValueError(f"app.streams: on the semantic link the first stream is the ARQ-protected prompt, got {streams}")
        if self.semantic_link.allocation == "table2" and len(streams) != 2:
            raise ValueError(f"semantic_link.allocation: table2 is for the prompt + one conditioning stream, got {streams}")
        return self

    @model_validator(mode="after")
    def _meg(self):
        if self.scenario not in ("meg", "meg_sweep"):
            return self
        m, size = self.meg, self.images.size
        multi = [p for p in m.protocols if p in MEG_MULTI_ES]
        if self.scenario == "meg" and multi and m.num_es < 2:
            raise ValueError(f"meg.num_es: multi-ES protocols {multi} need at least 2 edge servers, got {m.num_es}")
        if self.scenario == "meg_sweep":
            s = m.sweep
            for key, protocols, n in (("ue_num_es", s.ue_protocols, s.ue_num_es), ("snr_num_es", s.snr_protocols, s.snr_num_es)):
                multi = [p for p in protocols if p in MEG_MULTI_ES]
                if multi and n < 2:
                    raise ValueError(f"meg.sweep.{key}: multi-ES protocols {multi} need at least 2 edge servers, got {n}")
            if s.es_counts and min(s.es_counts) < 2:
                raise ValueError(f"meg.sweep.es_counts: the multi-ES protocols need at least 2 edge servers, got {s.es_counts}")
            if max(s.es_counts + [s.ue_num_es, s.snr_num_es]) > 8:
                raise ValueError("meg.sweep: at most 8 edge servers (meg.num_es's limit)")
            if not any((s.ue_counts and s.ue_protocols, s.es_counts and s.es_protocols, s.snr_db and s.snr_protocols)):
                raise ValueError("meg.sweep: every series is empty (no values or no protocols)")
        if size % 16:
            raise ValueError(f"images.size: scenario meg needs a multiple of 16 (VAE factor x UNet strip rows), got {size}")
        if m.sketch_side > size or size % m.sketch_side:
            raise ValueError(f"meg.sketch_side: must divide images.size {size}, got {m.sketch_side}")
        return self


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        got = err.get("input")
        shown = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(got, dict) else f" (got {got!r})"
        # A cross-section check names its key(s) itself, one line each.
        for msg in err["msg"].removeprefix("Value error, ").split("\n"):
            where = loc
            named = _KEY_PREFIX.match(msg) if loc == "<root>" else None
            if named:
                where, msg = named.group(1), msg[named.end():]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"config error: {where}: {msg}{'' if named else shown}")
    return "\n".join(lines)


def parse_config(data: dict) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config error: file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config error: {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {path}: top level must be a JSON object")
    return parse_config(data)
