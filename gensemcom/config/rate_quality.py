"""Section of scenario rate_quality."""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from .base import Section


class BackendSpec(Section):
    """A model backend to measure and its options (any other key; checked against the backend's
    constructor), with an optional label naming its point in the table."""
    model_config = ConfigDict(extra="allow", validate_default=True, allow_inf_nan=False)
    backend: str = Field(description="Backend name of the role.")
    label: str | None = Field(None, description="Name of the point in the table (default: backend and options).")


class RateQualityConfig(Section):
    """Settings of scenario `rate_quality` (images: the `images` section; models: `models`)."""
    codecs: list[BackendSpec] = Field(
        default_factory=lambda: [BackendSpec(backend="learned", rate="low"), BackendSpec(backend="learned", rate="medium"),
                                 BackendSpec(backend="learned", rate="high")],
        description="Codec backend specs to measure: {\"backend\": name, ...options, \"label\": optional name of the point}.")
    jpeg_qualities: list[Annotated[int, Field(ge=1, le=95)]] = Field(
        [1, 2, 3, 5, 10, 20, 30, 50, 75, 90], min_length=2, description="JPEG baseline qualities in 1..95 (PIL, optimize=True, 4:2:0).")
    generators: list[BackendSpec] = Field(
        default_factory=lambda: [BackendSpec(backend="gsc_ldm"), BackendSpec(backend="hint_upsample"),
                                 BackendSpec(backend="edge_fill")],
        description="Generator backend specs, fed prompt + edge map + colour hint from models.prompt/edges.")
    crops_per_image: int = Field(11, ge=0, le=200,
                                 description="Random crops of each image added to the set (FID/KID need samples).")
    clip_model: str | None = Field(None, description="HF id or local path of a real CLIP; null = the labelled CLIP substitute.")

    @field_validator("codecs", "generators")
    @classmethod
    def _backends(cls, specs: list[BackendSpec], info) -> list[BackendSpec]:
        from gensemcom.agents.backends import OPTIONS, available, unknown_options

        role = "codec" if info.field_name == "codecs" else "generator"
        problems = []   # one line each, named by the spec's index and key (rate_quality.codecs.0.rate)
        for i, spec in enumerate(specs):
            if spec.backend not in available(role):
                problems.append(f"{i}.backend: must be one of {available(role)}, got {spec.backend!r}")
                continue
            problems += [f"{i}.{option}: {role} backend {spec.backend} has no such option; its options: "
                         f"{list(OPTIONS[role, spec.backend])}"
                         for option in unknown_options(role, {"backend": spec.backend, **(spec.model_extra or {})})]
        if problems:
            raise ValueError("\n".join(problems))
        return specs
