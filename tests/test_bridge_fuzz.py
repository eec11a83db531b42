"""Thousands of malformed requests at a real agent of every role (encoder, generator, meg): each
gets an error reply (one bounded line, with compute_s), and the agent still answers afterwards."""
from __future__ import annotations

import json
import random

import pytest
import zmq

from gensemcom.bridge import schema
from gensemcom.bridge.launcher import AgentProcess

pytestmark = pytest.mark.slow

# Light backends: the requests never reach a model, but the agents load their models first.
ROLES = {
    "encoder": {"models": {"prompt": {"backend": "descriptor"}, "edges": {"backend": "canny"}}},
    "generator": {"models": {"generator": {"backend": "hint_upsample"}}},
    "meg": {"models": {"split": {"backend": "gsc_ldm"}}},
}
REQUESTS_PER_ROLE = 3000

# A valid header and frames per op, which the fuzzer then breaks in one place.
TEMPLATES = {
    ("encoder", "encode"): ({"h": 8, "w": 8}, [b"\x00" * 192]),
    ("generator", "generate"): ({"streams": ["prompt"], "h": 8, "w": 8}, [b"a cat"]),
}
for _op, _spec in schema.OPS["meg"].items():
    _fields = {"prompt": "a cat", "strength": 0.5, "seed": 1, "sketch_side": 16, "parts": 2, "overlap": 4,
               "spans": [[0, 8], [4, 16]], "rows": 16}
    _header = {"size": 64, **{k: _fields[k] for k in _spec.required if k != "size"}}
    _frames = [b"junk"] * (2 if _op in ("merge", "pick") else 1)
    TEMPLATES["meg", _op] = (_header, _frames)

BAD_VALUES = [None, True, False, -1, 0, 2**70, 1.5, float("nan"), float("inf"), "", "x" * 5000, [], [1, "a"],
              {}, {"a": {"b": [1]}}, [[[[[]]]]], "prompt", ["nope"], [True] * 100, 1e308]


def _broken(rng: random.Random, role: str) -> tuple[list[bytes], str]:
    """One malformed request (its wire parts) and what was broken."""
    kind = rng.randrange(7)
    if kind == 0:   # not a valid header at all
        raw = rng.choice([b"", b"\xff\xfe\x00", b"[1, 2]", b"{", b'{"v": 2, "op": "ping"}', b'{"v": 1}',
                          b"null", b'"ping"', b"{" * 5000, json.dumps({"v": 1, "op": "ping", "pad": "x" * 70_000}).encode()])
        return [raw], "header"
    if kind == 1:   # op of a wrong type, too long, or unknown
        op = rng.choice([["generate"], {"op": 1}, 7, None, True, "", "x" * rng.randrange(33, 50_000), "explode",
                         "encode " * 3, "\u0000"])
        return schema.encode(schema.Message({"v": 1, "op": op}, [])), "op"
    op = rng.choice([o for r, o in TEMPLATES if r == role])
    header, frames = TEMPLATES[role, op]
    header, frames = dict(header), list(frames)
    spec = schema.OPS[role][op]
    if kind == 2 and spec.required:   # a required field missing
        header.pop(rng.choice(sorted(spec.required)))
    elif kind == 3:                   # an unknown field
        header[rng.choice(["colour", "H", "stream", "opx", "x" * 100])] = rng.choice(BAD_VALUES[:8])
    elif kind == 4:                   # a field of a wrong type or out of range
        name = rng.choice(sorted(spec.fields()))
        check = {**spec.required, **spec.optional}[name]
        header[name] = rng.choice([v for v in BAD_VALUES if check(v) is not None])
    elif kind == 5:                   # a wrong number of frames
        lo, hi = spec.frames
        if hi is None:   # as many frames as the header names streams / spans
            lo = hi = len(header.get("streams", header.get("spans", [])))
        frames = [b"z"] * rng.choice([n for n in (0, lo - 1, hi + 1, 65) if n >= 0 and not lo <= n <= hi] or [hi + 1])
        if hi == lo and len(frames) == lo:
            frames.append(b"z")
    else:                             # well-formed header, garbage payload (meg: undecodable; encode: wrong size)
        if role == "generator":
            header["h"] = 0
        elif role == "encoder":
            frames = [b"\x00" * rng.randrange(0, 191)]
    try:
        parts = schema.encode(schema.Message({"v": 1, "op": op, **header}, frames))
    except (ValueError, TypeError):   # nan / inf: JSON without them cannot carry the value; send it raw
        parts = [json.dumps({"v": 1, "op": op, **header}).encode(), *frames]
    return parts, f"{op}:{kind}"


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz")
    procs = {role: AgentProcess(role, role, {"threads": 1, "seed": 1, **opts}, out, timeout_s=5, retries=0,
                                ready_timeout_s=180) for role, opts in ROLES.items()}
    try:
        for p in procs.values():
            p.wait_ready()
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@pytest.mark.parametrize("role", list(ROLES))
def test_malformed_requests_never_kill_an_agent(agents, role):
    agent = agents[role]
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(agent.endpoint)
    rng = random.Random(f"fuzz-{role}")
    try:
        for i in range(REQUESTS_PER_ROLE):
            parts, what = _broken(rng, role)
            sock.send_multipart(parts)
            assert sock.poll(10_000, zmq.POLLIN), f"request {i} ({what}): no reply; agent exit code {agent.proc.poll()}"
            reply = schema.decode(sock.recv_multipart())
            assert reply.header["ok"] is False, (i, what, reply.header)
            error = reply.header["error"]
            assert isinstance(error, str) and "\n" not in error and len(error) < 1000, (i, what, error)
            assert isinstance(reply.header["compute_s"], float) and not reply.frames
        sock.send_multipart(schema.encode(schema.request("ping")))
        assert sock.poll(10_000, zmq.POLLIN)
        pong = schema.decode(sock.recv_multipart())
        assert pong.ok and pong.header["role"] == role and "compute_s" in pong.header
        assert agent.proc.poll() is None
    finally:
        sock.close(linger=0)
