"""What every config section shares: strict models (an unknown key is an error) and the one
error type, whose message names the key, one line each."""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

DATA_RATE = re.compile(r"^\d+(\.\d+)?(bps|kbps|Kbps|Mbps|Gbps)$")

class ConfigError(ValueError):
    """Invalid configuration; the message names the offending key(s), one line each."""

class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

def check_rate(value: str) -> str:
    if not DATA_RATE.match(value):
        raise ValueError(f"data rate must look like '5Mbps' or '100kbps', got {value!r}")
    return value
