"""ZeroMQ bridge: schema validation, a real agent process, errors, and a killed agent."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gensemcom.bridge import schema
from gensemcom.bridge.client import AgentClient, AgentError, AgentUnavailable, check_local_endpoint

# A real server process with two ops: echo (returns its frames reversed) and fail (raises).
SERVER = r"""
import sys, time
from gensemcom.bridge.server import serve
def echo(h, frames):
    time.sleep(float(h.get("sleep", 0)))
    return {"n": len(frames)}, list(reversed(frames))
def fail(h, frames):
    raise RuntimeError("model exploded")
serve(sys.argv[1], {"echo": echo, "fail": fail}, info={"role": "test"})
"""


@pytest.fixture
def server(tmp_path):
    endpoint = f"ipc://{tmp_path}/agent.ipc"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, endpoint])
    client = AgentClient(endpoint, timeout_s=1.0, retries=1, name="test")
    client.wait_ready(timeout_s=30)
    yield proc, client, endpoint
    client.close()
    proc.kill()
    proc.wait()


def test_schema_round_trip():
    msg = schema.request("generate", [b"\x00\x01", b""], unit=3, streams=["a", "b"])
    back = schema.decode(schema.encode(msg))
    assert back.op == "generate" and back.header["unit"] == 3 and back.frames == [b"\x00\x01", b""]


@pytest.mark.parametrize("parts, why", [
    ([], "empty"),
    ([b"\xff\xfe"], "UTF-8 JSON"),
    ([b"[1, 2]"], "JSON object"),
    ([b'{"v": 99, "op": "x"}'], "version"),
    ([b'{"v": 1}'], "neither"),
    ([b"{" + b" " * schema.MAX_HEADER_BYTES + b"}"], "exceeds"),
])
def test_schema_rejects_bad_messages(parts, why):
    with pytest.raises(schema.BridgeProtocolError, match=why):
        schema.decode(parts)


def test_only_local_endpoints():
    check_local_endpoint("ipc:///tmp/x.ipc")
    check_local_endpoint("tcp://127.0.0.1:5555")
    for bad in ("tcp://0.0.0.0:5555", "tcp://10.0.0.1:5555", "tcp://*:5555"):
        with pytest.raises(ValueError, match="must be ipc"):
            check_local_endpoint(bad)


def test_request_reply_with_binary_frames(server):
    _, client, _ = server
    payload = bytes(range(256)) * 100
    answer = client.call(schema.request("echo", [b"first", payload]))
    assert answer.ok and answer.header["n"] == 2
    assert answer.frames == [payload, b"first"]
    assert answer.header["compute_s"] >= 0


def test_handler_error_is_reported_and_agent_keeps_serving(server):
    _, client, _ = server
    with pytest.raises(AgentError, match="model exploded"):
        client.call(schema.request("fail"))
    with pytest.raises(AgentError, match="unknown op"):
        client.call(schema.request("nope"))
    assert client.call(schema.request("echo", [b"x"])).frames == [b"x"]


@pytest.mark.slow
def test_slow_reply_is_retried_then_declared_dead(server):
    _, client, _ = server
    start = time.monotonic()
    with pytest.raises(AgentUnavailable, match="after 2 attempts"):
        client.call(schema.request("echo", sleep=5))
    assert time.monotonic() - start < 4  # 2 attempts x 1 s, not 5 s or forever
    with pytest.raises(AgentUnavailable, match="declared dead"):
        client.call(schema.request("echo"))


@pytest.mark.slow
def test_killed_agent_does_not_hang_the_caller(server):
    proc, client, _ = server
    assert client.call(schema.request("echo", [b"x"])).ok
    proc.kill()
    proc.wait()
    start = time.monotonic()
    with pytest.raises(AgentUnavailable):
        client.call(schema.request("echo", [b"x"]))
    assert time.monotonic() - start < 4


def test_bad_request_from_a_raw_socket_gets_an_error_reply(server):
    import zmq

    _, _, endpoint = server
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b"not json", b"frame"])
    assert sock.poll(5000)
    answer = schema.decode(sock.recv_multipart())
    sock.close()
    assert not answer.ok and "bad request" in answer.header["error"]


def _schema_doc_ops() -> dict:
    """(role, op) -> (required fields, optional fields) from the tables of bridge/SCHEMA.md."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "bridge" / "SCHEMA.md").read_text()
    sentence = re.search(r"Every `meg` request has the field `size` and may have (.*?):\n", doc, re.S).group(1)
    common = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", sentence)))
    out = {}
    for line in doc.splitlines():
        m = re.match(r"\| (encoder|generator|meg) \| `(\w+)` \| ([^|]*) \|", line)
        if not m:
            continue
        role, op, fields = m.groups()
        required_text, _, optional_text = fields.partition("optional")
        required = set(re.findall(r"`(\w+)`", required_text))
        optional = set(re.findall(r"`(\w+)`", optional_text))
        optional -= {"png", "raw"}  # values named in the text, not fields
        if role == "meg":
            required, optional = required | {"size"}, optional | common
        out[role, op] = (required, optional)
    return out


def test_schema_doc_and_code_agree():
    documented = _schema_doc_ops()
    coded = {(role, op): (set(spec.required), set(spec.optional)) for role, ops in schema.OPS.items()
             for op, spec in ops.items()}
    assert documented.keys() == coded.keys()
    for key in coded:
        assert documented[key] == coded[key], key


@pytest.mark.parametrize("header, frames, error", [
    ({"op": ["generate"]}, [], "'op' must be a string"),
    ({"op": {"x": 1}}, [], "'op' must be a string"),
    ({"op": "x" * 40_000}, [], "'op' must be a string"),
    ({"op": "generate", "streams": ["prompt", "edge", "hint"]}, [b"a"], "1 frame(s), expected 3"),
    ({"op": "generate", "streams": ["prompt", "edge", "hint"]}, [], "0 frame(s), expected 3"),
    ({"op": "generate", "streams": ["prompt"]}, [b"a", b"b", b"c"], "3 frame(s), expected 1"),
    ({"op": "generate", "streams": ["prompt"], "format": "gif"}, [b"a"], "generate.format must be one of"),
    ({"op": "generate", "streams": ["prompt"], "h": 0, "w": 0}, [b"a"], "generate.h must be an integer in [1, 4096]"),
    ({"op": "generate", "streams": ["prompt"], "h": True}, [b"a"], "generate.h must be an integer"),
    ({"op": "generate", "streams": ["prompt"], "crc_ok": [True, False]}, [b"a"], "crc_ok has 2 entries for 1 streams"),
    ({"op": "generate", "streams": ["prompt", "prompt"]}, [b"a", b"b"], "must be distinct"),
    ({"op": "generate", "streams": ["prompt"], "colour": 1}, [b"a"], "unknown header field"),
    ({"op": "encode", "h": 8, "w": 8}, [b"a"], "expected h*w*3 = 192"),
])
def test_malformed_requests_are_rejected_in_one_bounded_line(header, frames, error):
    ops = {**schema.OPS["encoder"], **schema.OPS["generator"]}
    msg = schema.Message({"v": schema.PROTOCOL_VERSION, **header}, frames)
    with pytest.raises(schema.BridgeProtocolError) as info:
        schema.check_request(ops, msg, 1 << 20)
    text = str(info.value)
    assert error in text and "\n" not in text and len(text) < 300


# -- pipelined requests (submit / join) and batches -------------------------------------------

def test_pipelined_requests_are_matched_to_their_replies_by_id(server):
    _, client, _ = server
    ids = [client.submit(schema.request("echo", [bytes([i]) * (i + 1)], sleep=0.05)) for i in range(5)]
    assert client.outstanding == 5
    for i in reversed(range(5)):   # joined in any order: each gets its own reply
        assert client.join(ids[i]).frames == [bytes([i]) * (i + 1)]
    assert client.outstanding == 0
    bad = client.submit(schema.request("fail"))
    good = client.submit(schema.request("echo", [b"y"]))
    with pytest.raises(AgentError, match="model exploded"):   # an error fails its own request only
        client.join(bad)
    assert client.join(good).frames == [b"y"]


def test_the_timeout_counts_silence_not_queueing(server):
    """Five requests of 0.6 s each pipelined to an agent with a 1 s timeout: the last reply comes
    after 3 s, but a reply arrives every 0.6 s, so nothing is declared dead."""
    _, client, _ = server
    ids = [client.submit(schema.request("echo", [b"x"], sleep=0.6)) for _ in range(5)]
    assert [client.join(i).ok for i in ids] == [True] * 5


def test_a_killed_agent_fails_every_outstanding_request_without_hanging(tmp_path):
    endpoint = f"ipc://{tmp_path}/agent.ipc"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, endpoint])
    client = AgentClient(endpoint, timeout_s=30.0, retries=1, name="test",
                         exit_reason=lambda: None if proc.poll() is None else f"exited (code {proc.poll()})")
    try:
        client.wait_ready(timeout_s=30)
        ids = [client.submit(schema.request("echo", [b"x"], sleep=2)) for _ in range(4)]
        time.sleep(0.3)
        proc.kill()
        proc.wait()
        start = time.monotonic()
        for rid in ids:
            with pytest.raises(AgentUnavailable, match="exited"):
                client.join(rid)
        assert time.monotonic() - start < 2   # not 4 x 2 s, not the 30 s timeouts
        with pytest.raises(AgentUnavailable):
            client.submit(schema.request("echo"))
    finally:
        client.close()
        proc.kill()
        proc.wait()


def test_a_request_id_that_is_not_an_integer_is_a_bad_request(server):
    import zmq

    _, _, endpoint = server
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b'{"v": 1, "op": "ping", "id": "seven"}'])
    assert sock.poll(5000)
    answer = schema.decode(sock.recv_multipart())
    sock.close()
    assert not answer.ok and "'id' must be an integer" in answer.header["error"] and "id" not in answer.header


BATCH_SERVER = r"""
import sys, time
from gensemcom.bridge.server import serve
def double(h, frames):
    return {"n": 1}, [frames[0] * 2]
def double_batch(items):
    time.sleep(0.2)   # one model call for the whole batch
    out = []
    for h, frames in items:
        out.append(ValueError("bad item") if frames[0] == b"bad" else ({"n": len(items)}, [frames[0] * 2]))
    return out
serve(sys.argv[1], {"double": double}, batch_handlers={"double": double_batch}, max_batch=4, batch_wait_ms=300)
"""


def test_queued_requests_are_run_as_batches_and_answered_one_by_one(tmp_path):
    endpoint = f"ipc://{tmp_path}/agent.ipc"
    proc = subprocess.Popen([sys.executable, "-c", BATCH_SERVER, endpoint])
    client = AgentClient(endpoint, timeout_s=10.0, retries=0, name="batch")
    try:
        client.wait_ready(timeout_s=30)
        payloads = [b"a", b"bad", b"c", b"d", b"e", b"f"]
        ids = [client.submit(schema.request("double", [p])) for p in payloads]
        answers = {}
        for p, rid in zip(payloads, ids):
            try:
                answers[p] = client.join(rid)
            except AgentError as exc:
                answers[p] = exc
        assert "bad item" in str(answers[b"bad"])   # one item's failure is its own
        for p in (b"a", b"c", b"d", b"e", b"f"):
            assert answers[p].frames == [p * 2]
        # Six requests, at most four a batch: a batch of 4, then one of 2.
        assert [answers[p].header["batch"] for p in (b"a", b"c", b"d", b"e", b"f")] == [4, 4, 4, 2, 2]
        assert answers[b"a"].header["compute_s"] >= 0.04   # the batch's wall time over its size
    finally:
        client.close()
        proc.kill()
        proc.wait()


def test_a_worker_pool_loses_only_the_requests_of_a_dead_worker(tmp_path):
    from gensemcom.bridge.pool import WorkerPool

    procs, clients = [], []
    for k in range(2):
        endpoint = f"ipc://{tmp_path}/worker{k}.ipc"
        proc = subprocess.Popen([sys.executable, "-c", SERVER, endpoint])
        procs.append(proc)
        clients.append(AgentClient(endpoint, timeout_s=30.0, retries=0, name=f"w{k}",
                                   exit_reason=lambda p=proc: None if p.poll() is None else f"exited ({p.poll()})"))
    try:
        for c in clients:
            c.wait_ready(timeout_s=30)
        pool = WorkerPool(clients)
        handles = [pool.submit(schema.request("echo", [bytes([i])], sleep=1)) for i in range(6)]
        assert sorted(k for k, _ in handles) == [0, 0, 0, 1, 1, 1]   # spread: fewest outstanding first
        procs[1].kill()
        procs[1].wait()
        for i, handle in enumerate(handles):
            if handle[0] == 0:
                assert pool.join(handle).frames == [bytes([i])]
            else:
                with pytest.raises(AgentUnavailable, match="exited"):
                    pool.join(handle)
        after = pool.submit(schema.request("echo", [b"z"]))
        assert after[0] == 0 and pool.join(after).frames == [b"z"]
        # Worker 0's busy time: its three 1-s requests (and the echo), none of the dead one's.
        assert 3.0 <= pool.busy_s[0] < 10.0 and pool.busy_s[1] == 0.0
    finally:
        for c, p in zip(clients, procs):
            c.close()
            p.kill()
            p.wait()
