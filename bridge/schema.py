"""Wire format between the ns-3 process and the agents (see bridge/SCHEMA.md).

A message is a ZeroMQ multipart: frame 0 is a UTF-8 JSON object (the header), frames 1..n
are raw bytes (payload streams). Nothing is pickled, so a hostile or corrupted peer can at
worst send a bad header, which is rejected here with a clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

PROTOCOL_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024


class BridgeProtocolError(ValueError):
    """A message that does not follow the schema."""


@dataclass
class Message:
    """Header fields plus raw payload frames. Requests carry ``op``; replies carry ``ok``."""

    header: dict
    frames: list[bytes] = field(default_factory=list)

    @property
    def op(self) -> str:
        return self.header.get("op", "")

    @property
    def ok(self) -> bool:
        return bool(self.header.get("ok", False))


def request(op: str, frames: list[bytes] | None = None, **meta) -> Message:
    return Message({"v": PROTOCOL_VERSION, "op": op, **meta}, list(frames or []))


def reply(ok: bool = True, frames: list[bytes] | None = None, **meta) -> Message:
    return Message({"v": PROTOCOL_VERSION, "ok": ok, **meta}, list(frames or []))


def encode(msg: Message) -> list[bytes]:
    header = json.dumps(msg.header, separators=(",", ":"), allow_nan=False).encode()
    if len(header) > MAX_HEADER_BYTES:
        raise BridgeProtocolError(f"header of {len(header)} bytes exceeds {MAX_HEADER_BYTES}")
    return [header, *(bytes(f) for f in msg.frames)]


def decode(parts: list[bytes]) -> Message:
    if not parts:
        raise BridgeProtocolError("empty message")
    raw = bytes(parts[0])
    if len(raw) > MAX_HEADER_BYTES:
        raise BridgeProtocolError(f"header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BridgeProtocolError(f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BridgeProtocolError("header must be a JSON object")
    if header.get("v") != PROTOCOL_VERSION:
        raise BridgeProtocolError(
            f"protocol version {header.get('v')!r} not supported (expected {PROTOCOL_VERSION})"
        )
    if "op" not in header and "ok" not in header:
        raise BridgeProtocolError("header has neither 'op' (request) nor 'ok' (reply)")
    return Message(header, [bytes(p) for p in parts[1:]])
