"""Simulated compute time: how long a model's work takes in simulated time."""

from __future__ import annotations


class ComputeClock:
    """One serial processor (FIFO): a job waits while the previous one is still running.

    kind "fixed" charges `fixed_s` per job (same config and seed => same traces); "measured"
    charges the agent's measured wall time x `scale` (realistic, not reproducible)."""

    def __init__(self, kind: str, fixed_s: float, scale: float):
        self.kind, self.fixed_s, self.scale = kind, fixed_s, scale
        self.busy_until = 0.0

    def finish_time(self, now: float, measured_s: float) -> float:
        duration = self.fixed_s if self.kind == "fixed" else measured_s * self.scale
        start = max(now, self.busy_until)
        self.busy_until = start + duration
        return self.busy_until
