"""Section of scenario rate_quality."""
from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section


class RateQualityConfig(Section):
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
        from gensemcom.agents.backends import available, unknown_options

        role = "codec" if info.field_name == "codecs" else "generator"
        for spec in specs:
            if spec.get("backend") not in available(role):
                raise ValueError(f"{role} backend must be one of {available(role)}, got {spec.get('backend')!r}")
            extra = [k for k in unknown_options(role, spec) if k != "label"]   # label names the curve point
            if extra:
                raise ValueError(f"{role} backend {spec['backend']} has no option(s) {extra}")
        return specs
