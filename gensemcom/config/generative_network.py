"""Sections of the generative network layer: the topology and prompting (gnl), the curves' sweep."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section
from .engine import EngineConfig


class GnlEdge(Section):
    """One directed link of a generative-network-layer topology (an ns-3 point-to-point link)."""

    u: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="Tail node.")
    v: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="Head node.")
    capacity: float = Field(gt=0, description="Capacity u -> v in bpp per period (payload bits; headers are added on the wire).")
    delay_ms: float | None = Field(None, ge=0, description="Propagation delay; default gnl.delay_ms.")

class GnlConfig(Section):
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

class GnlSweepConfig(Section):
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
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Where the codec measurements (one per base "
                                 "codec with its PS / hybrid points, one for implicit prompting) run: worker processes, "
                                 "resumable (docs/campaigns.md).")

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
        if not families:
            return families   # nothing to check: spare every config the import of the curve fits (~1 s)
        from gensemcom.analysis.curve_fits import FAMILIES
        from gensemcom.analysis.gnl_curves import curve_names

        curves = curve_names(info.data.get("codec_rates") or list(GNL_CODEC_RATES))
        for key, family in families.items():
            curve, _, metric = key.partition(".")
            if curve not in curves or metric not in ("D", "P"):
                raise ValueError(f"key {key!r} is not <curve>.<D|P> with curve in {curves}")
            if family != "auto" and family not in FAMILIES:
                raise ValueError(f"key {key!r}: family must be 'auto' or one of {sorted(FAMILIES)}, got {family!r}")
        return families
