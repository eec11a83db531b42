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


# -- requests, op by op ----------------------------------------------------------------------
# Every request is checked here before any model runs: the type and range of each header field,
# the number of frames, and their sizes where the header fixes them. The tables are those of
# SCHEMA.md (a test holds the two together). A check returns an error text or None.

MAX_OP_CHARS = 32
MAX_SIDE = 4096
MAX_FRAMES = 64
QUOTE_CHARS = 60   # an error reply quotes at most this much of what it rejects


def quote(value) -> str:
    """repr(value), cut to QUOTE_CHARS: error replies stay small whatever the request held."""
    return clip(repr(value), QUOTE_CHARS)


def clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return (_is_int(x) or isinstance(x, float)) and x == x and x not in (float("inf"), float("-inf"))


def _int(lo: int, hi: int):
    def check(x):
        return None if _is_int(x) and lo <= x <= hi else f"an integer in [{lo}, {hi}]"
    return check


def _number(lo: float, hi: float, lo_open: bool = False):
    def check(x):
        ok = _is_number(x) and (lo < x if lo_open else lo <= x) and x <= hi
        return None if ok else f"a finite number in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    return check


def _choice(*options: str):
    def check(x):
        return None if isinstance(x, str) and x in options else f"one of {list(options)}"
    return check


def _text(max_chars: int):
    def check(x):
        return None if isinstance(x, str) and len(x) <= max_chars else f"a string of at most {max_chars} characters"
    return check


def _list_of(item, max_len: int = MAX_FRAMES, what: str = ""):
    def check(x):
        if not isinstance(x, list) or len(x) > max_len or any(item(v) is not None for v in x):
            return f"a list of at most {max_len} {what}"
        return None
    return check


def _stream_name(x):
    return None if isinstance(x, str) and x in ("prompt", "edge", "hint", "latent") else "a stream name"


def _bool(x):
    return None if isinstance(x, bool) else "true or false"


def _span(x):
    ok = isinstance(x, list) and len(x) == 2 and all(_is_int(v) and 0 <= v <= MAX_SIDE for v in x) and x[0] < x[1]
    return None if ok else "[start, stop) with 0 <= start < stop"


def _channel_entry(x):
    if x is None:
        return None
    if (isinstance(x, dict) and set(x) <= {"snr_db", "seed"} and "seed" in x and _is_int(x["seed"])
            and (x.get("snr_db") is None or _number(-100, 100)(x["snr_db"]) is None)):
        return None
    return 'null or {"snr_db": number or null, "seed": int}'


def _optional(check):
    def allow_null(x):
        return None if x is None else check(x)
    return allow_null


@dataclass(frozen=True)
class OpSchema:
    required: dict       # field -> check
    optional: dict       # field -> check
    frames: tuple        # (min, max) frame count; max None: as many as `streams` / `spans` says

    def fields(self) -> set[str]:
        return set(self.required) | set(self.optional)


SIDE = _int(1, MAX_SIDE)
SEED = _int(0, 2**63 - 1)
_MEG_COMMON = {"size": SIDE, "channel": _optional(_list_of(_channel_entry, what="channel entries")),
               "latent_format": _choice("float32", "float16", "uint8"), "image_format": _choice("raw", "png")}


def _meg(required: dict, frames: tuple) -> OpSchema:
    return OpSchema({"size": SIDE, **required}, {k: v for k, v in _MEG_COMMON.items() if k != "size"}, frames)


# Ops of each agent role (ping and shutdown: every role, no fields, no frames).
OPS: dict[str, dict[str, OpSchema]] = {
    "encoder": {
        "encode": OpSchema({"h": SIDE, "w": SIDE}, {"streams": _list_of(_stream_name, 4, "stream names")}, (1, 1)),
    },
    "generator": {
        "generate": OpSchema({"streams": _list_of(_stream_name, 4, "stream names")},
                             {"unit": _int(0, 2**63 - 1), "complete": _list_of(_bool, 4, "booleans"),
                              "crc_ok": _list_of(_bool, 4, "booleans"), "h": SIDE, "w": SIDE,
                              "format": _choice("png", "raw")}, (0, None)),
    },
    "meg": {
        "receive": _meg({}, (1, MAX_FRAMES)),
        "encode": _meg({}, (1, 1)),
        "denoise": _meg({"prompt": _text(2000), "strength": _number(0, 1, lo_open=True), "seed": SEED},
                        (1, 1)),
        "decode": _meg({}, (1, 1)),
        "sketch": _meg({"sketch_side": SIDE}, (1, 1)),
        "complete": _meg({"prompt": _text(2000), "strength": _number(0, 1, lo_open=True), "seed": SEED}, (1, 1)),
        "split": _meg({"parts": _int(1, 64), "overlap": _int(0, MAX_SIDE)}, (1, 1)),
        "merge": _meg({"spans": _list_of(_span, what="spans"), "rows": SIDE, "overlap": _int(0, MAX_SIDE)},
                      (1, None)),
        "pick": _meg({}, (2, MAX_FRAMES)),
    },
}
OPS["meg"]["denoise"].optional["rows"] = _optional(_span)


def check_request(ops: dict[str, OpSchema], msg: Message, max_frame_bytes: int) -> None:
    """Raise BridgeProtocolError (one line, bounded) unless `msg` is a well-formed request for
    one of `ops` (a role's table)."""
    header, frames = msg.header, msg.frames
    op = header.get("op")
    if not isinstance(op, str) or not op or len(op) > MAX_OP_CHARS:
        raise BridgeProtocolError(f"'op' must be a string of 1 to {MAX_OP_CHARS} characters, got {quote(op)}")
    if op in ("ping", "shutdown"):
        spec = OpSchema({}, {}, (0, 0))
    elif op not in ops:
        raise BridgeProtocolError(f"unknown op {quote(op)}; this agent serves {sorted(ops) + ['ping', 'shutdown']}")
    else:
        spec = ops[op]
    unknown = sorted(k for k in header if k not in {"v", "op", "id"} | spec.fields())
    if unknown:
        raise BridgeProtocolError(f"{op}: unknown header field(s) {quote(unknown)}")
    for name in spec.required:
        if name not in header:
            raise BridgeProtocolError(f"{op}: missing header field {name!r}")
    for name, check in {**spec.required, **spec.optional}.items():
        if name in header and (error := check(header[name])) is not None:
            raise BridgeProtocolError(f"{op}.{name} must be {error}, got {quote(header[name])}")
    lo, hi = spec.frames
    if hi is None:   # as many frames as the header lists streams / spans
        hi = lo = len(header.get("streams", header.get("spans", [])))
    if not lo <= len(frames) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise BridgeProtocolError(f"{op}: {len(frames)} frame(s), expected {want}")
    big = [i for i, f in enumerate(frames) if len(f) > max_frame_bytes]
    if big:
        raise BridgeProtocolError(f"{op}: frame {big[0]} exceeds {max_frame_bytes} bytes")
    check_id(header)
    _check_consistency(op, header, frames)


MAX_ID = 2**63 - 1


def check_id(header: dict, strict: bool = True) -> str | None:
    """The request id (optional in every request, echoed in its reply): an integer in
    [0, 2^63 - 1]. strict: raise BridgeProtocolError; else return the error text or None."""
    if "id" not in header or (_is_int(header["id"]) and 0 <= header["id"] <= MAX_ID):
        return None
    error = f"'id' must be an integer in [0, {MAX_ID}], got {quote(header['id'])}"
    if strict:
        raise BridgeProtocolError(error)
    return error


def _check_consistency(op: str, header: dict, frames: list[bytes]) -> None:
    """What the header says about the frames, per op."""
    if op == "encode" and "h" in header:
        if len(frames[0]) != header["h"] * header["w"] * 3:
            raise BridgeProtocolError(f"encode: the frame has {len(frames[0])} bytes, expected h*w*3 = "
                                      f"{header['h'] * header['w'] * 3}")
        streams = header.get("streams")
        if streams is not None and (not streams or len(set(streams)) != len(streams)):
            raise BridgeProtocolError(f"encode.streams must be distinct stream names, got {quote(streams)}")
    if op == "generate":
        streams = header["streams"]
        if len(set(streams)) != len(streams):
            raise BridgeProtocolError(f"generate.streams must be distinct, got {quote(streams)}")
        for name in ("complete", "crc_ok"):
            if name in header and len(header[name]) != len(streams):
                raise BridgeProtocolError(f"generate.{name} has {len(header[name])} entries for {len(streams)} streams")
    channel = header.get("channel")
    if channel is not None and len(channel) != len(frames):
        raise BridgeProtocolError(f"{op}.channel has {len(channel)} entries for {len(frames)} frames")
