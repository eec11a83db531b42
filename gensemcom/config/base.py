"""What every config section shares: strict models (an unknown key is an error) and the one
error type, whose message names the key, one line each."""
from __future__ import annotations

import re
import reprlib

from pydantic import BaseModel, ConfigDict

DATA_RATE = re.compile(r"^\d+(\.\d+)?(bps|kbps|Kbps|Mbps|Gbps)$")


class ConfigError(ValueError):
    """Invalid configuration; the message names the offending key(s), one line each."""


class Section(BaseModel):
    # NaN and infinities are never meaningful values of a physical parameter.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxlong = 3, 6, 6, 60, 40


def shown(value) -> str:
    """A value as an error line quotes it: bounded, whatever its size or nesting depth."""
    return _SHOWN.repr(value)


def check_rate(value: str) -> str:
    """A positive ns-3 data rate such as "5Mbps" (zero would stall or crash the simulator)."""
    match = DATA_RATE.match(value)
    if not match:
        raise ValueError(f"data rate must look like '5Mbps' or '100kbps', got {value!r}")
    if float(value[:len(value) - len(match.group(2))]) <= 0:
        raise ValueError(f"data rate must be positive, got {value!r}")
    return value
