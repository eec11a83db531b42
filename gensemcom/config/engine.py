"""Where independent runs execute: a campaign's points, a sweep's points (section `engine` of a
campaign file, and of the sweep sections latency_sweep, meg.sweep, gnl_sweep)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class EngineConfig(Section):
    """Worker processes that each import ns-3 and load models once and run points one after
    another (gensemcom.campaign.engines)."""
    kind: Literal["local", "ray"] = Field("local", description="local: worker processes on this machine; ray: a Ray cluster.")
    workers: int = Field(0, ge=0, le=1024, description="Worker processes (local) or concurrent points (ray); 0: one per core.")
    address: str | None = Field(None, description="Ray cluster address (ray only; default RAY_ADDRESS, else a local cluster).")
    cpus_per_point: float = Field(1.0, gt=0, description="CPUs a point asks for on a Ray cluster.")
    gpus_per_point: float = Field(0.0, ge=0, description="GPUs a point asks for on a Ray cluster (fractions share a GPU).")
