"""Every MEG protocol's message sequence with the real split model (gsc_ldm at 64 px), run by
the protocol engine over the in-process LocalTransport (no ns-3): who computes what, who
sends what to whom, byte sizes, the cooperative merges, and failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gensemcom.agents.meg_split import agent as meg_agent, protocols as meg_protocols, wire
from gensemcom.agents.meg_split import strips as meg_strips
from gensemcom.agents.images import load_image
from gensemcom.analysis import metrics
from gensemcom.bridge.client import AgentUnavailable
from gensemcom.config import parse_config
from gensemcom.scenarios.meg.engine import LocalTransport, MegEngine, local_caller

SIZE = 64                      # latent 4 x 16 x 16; strips of 2 ESs with overlap 4: rows [0, 12), [4, 16)
SKETCH = 32
LATENT16 = 7 + 4 * 16 * 16 * 2
IMAGE = 5 + SIZE * SIZE * 3
SKETCH_RAW = 5 + SKETCH * SKETCH * 3
LATENT16_STRIP = 7 + 4 * 12 * 16 * 2
IMAGE_STRIP = 5 + 48 * SIZE * 3
SKETCH_STRIP = 5 + 24 * SKETCH * 3
UE, ES = "ue0", ["es0", "es1"]

GEN = ["encode", "denoise", "decode"]


def _at(node, *ops):
    return [(node, op) for op in ops]


# protocol: (uplink kind and payload bytes, downlink kind and bytes, the agent calls in order).
# The LocalTransport delivers simultaneous messages in send order, so es0 runs its chain before
# es1; "receive" is the UE's side of the feature channel when it runs no other op on a reply.
EXPECTED = {
    "full_ue": (None, None, _at(UE, *GEN)),
    "full_es": (("image", IMAGE), ("image", IMAGE), _at("es0", *GEN) + _at(UE, "receive")),
    "uieg": (("latent", LATENT16), ("image", IMAGE), _at(UE, "encode") + _at("es0", "denoise", "decode") + _at(UE, "receive")),
    "eiug": (("image", IMAGE), ("latent", LATENT16), _at("es0", "encode", "denoise") + _at(UE, "decode")),
    "ciag": (("latent", LATENT16), ("latent", LATENT16), _at(UE, "encode") + _at("es0", "denoise") + _at(UE, "decode")),
    "esuc": (("image", IMAGE), ("sketch", SKETCH_RAW), _at("es0", *GEN, "sketch") + _at(UE, "complete")),
    "uidg": (("latent", LATENT16), ("image", IMAGE),
             _at(UE, "encode") + _at("es0", "denoise", "decode") + _at("es1", "denoise", "decode")
             + _at(UE, "receive", "receive", "pick")),
    "diug": (("image", IMAGE), ("latent", LATENT16),
             _at("es0", "encode", "denoise") + _at("es1", "encode", "denoise") + _at(UE, "decode", "decode", "pick")),
    "dsuc": (("image", IMAGE), ("sketch", SKETCH_RAW),
             _at("es0", *GEN, "sketch") + _at("es1", *GEN, "sketch") + _at(UE, "receive", "receive", "pick", "complete")),
    "uidcg": (("latent_part", LATENT16_STRIP), ("latent_part", LATENT16_STRIP),
              _at(UE, "encode", "split") + _at("es0", "denoise") + _at("es1", "denoise")
              + _at(UE, "receive", "receive", "merge", "decode")),
    "dcsuc": (("image_part", IMAGE_STRIP), ("sketch_part", SKETCH_STRIP),
              _at(UE, "split") + _at("es0", *GEN, "sketch") + _at("es1", *GEN, "sketch")
              + _at(UE, "receive", "receive", "merge", "complete")),
}


@pytest.fixture(scope="module")
def agent():
    return meg_agent.MegAgent({"threads": 1, "seed": 1})


@pytest.fixture(scope="module")
def image():
    return load_image("kodim23", SIZE)


def _run(agent, image, protocols, calls=None, call=None, **meg_keys):
    cfg = parse_config({"name": "t", "scenario": "meg", "images": {"size": SIZE},
                        "meg": {"protocols": protocols, "num_es": 2, "sketch_side": SKETCH, **meg_keys}})
    inner = call or local_caller({n: agent for n in [UE] + ES})

    def recording(node, op, header, frames):
        if calls is not None:
            calls.append((node, op))
        return inner(node, op, header, frames)
    transport = LocalTransport(recording)
    engine = MegEngine(cfg.meg, seed=1, size=SIZE, ues=[UE], ess=ES, images=[("kodim23", image)],
                       start_s=0.5, interval_s=1.0, transport=transport)
    transport.engine = engine
    engine.start()
    transport.run()
    assert engine.done
    return engine


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.slow
def test_message_sequence_and_sizes(agent, image, name):
    calls: list = []
    engine = _run(agent, image, [name], calls)
    (req,) = engine.requests
    assert req.status == "ok", req.error
    assert req.result.shape == image.shape and req.result.dtype == np.uint8
    up, down, ops = EXPECTED[name]
    es_used = ES if meg_protocols.PROTOCOLS[name].multi_es else ([] if up is None else ["es0"])
    assert req.es == es_used
    assert calls == ops
    msgs = sorted(engine.messages.values(), key=lambda m: (m.direction != "uplink", m.part))
    if up is None:
        assert msgs == []
        return
    expected = [(UE, es, up[0], up[1]) for es in es_used] + [(es, UE, down[0], down[1]) for es in es_used]
    assert [(m.src, m.dst, m.kind, len(m.payload)) for m in msgs] == expected
    for m in msgs:
        assert m.t_rx > m.t_sent >= req.t_request and m.t_rx <= req.t_done
        if m.direction == "uplink":   # the task travels with every uplink message, as real bytes
            task = json.loads(m.task)
            assert task["prompt"] == engine.m.prompt and isinstance(task["seed"], int)
            assert ("rows" in task) == (meg_protocols.PROTOCOLS[name].family == "cooperative")
        else:
            assert m.task == b""
    if meg_protocols.PROTOCOLS[name].family == "cooperative":
        assert [json.loads(m.task)["rows"] for m in msgs if m.direction == "uplink"] == [[0, 12], [4, 16]]


def test_split_pipeline_over_a_noiseless_lossless_channel_equals_one_node(agent, image):
    """With float32 latents, raw images and no channel noise, every single-ES split of
    encode / denoise / decode gives the image generated on one node, bit for bit."""
    engine = _run(agent, image, ["full_ue", "full_es", "uieg", "eiug", "ciag"], snr_db=None, latent_format="float32")
    results = {r.protocol.name: r.result for r in engine.requests}
    for name in ("full_es", "uieg", "eiug", "ciag"):
        assert np.array_equal(results[name], results["full_ue"]), name
    half = _run(agent, image, ["ciag"], snr_db=None, latent_format="float16").requests[0].result
    assert metrics.psnr(half, results["full_ue"]) > 35    # float16 on the air: a small difference


def test_channel_noise_degrades_with_lower_snr(agent, image):
    ref = _run(agent, image, ["ciag", "full_es"], snr_db=None).requests
    scores = {}
    for snr in (-10.0, 20.0):
        got = _run(agent, image, ["ciag", "full_es"], snr_db=snr).requests
        scores[snr] = [metrics.psnr(a.result, b.result) for a, b in zip(ref, got)]
    for i in range(2):
        assert scores[20.0][i] > scores[-10.0][i] + 3
        assert np.isfinite(scores[20.0][i])


def test_parallel_protocols_use_distinct_noise_and_pick(agent, image):
    engine = _run(agent, image, ["uidg", "diug"], snr_db=None)
    for req in engine.requests:
        assert req.picked in (0, 1) and req.status == "ok"
        a, b = (wire.unpack(req.candidates[k]) for k in (0, 1))
        assert not np.array_equal(a, b)                      # each ES draws its own noise
        assert req.picked == meg_strips.pick_closest(image, [a, b])
        assert np.array_equal(req.result, [a, b][req.picked])
    first = _run(agent, image, ["uidg"], snr_db=None, pick="first").requests[0]
    assert first.picked == 0 and len(first.candidates) == 1   # finished on the first reply


def test_cooperative_merges_blend_the_strips(agent, image):
    """UIDCG: the UE decodes the blend of the two denoised strips: the rows only one ES
    produced equal that ES's strip, the shared rows lie between the two."""
    engine = _run(agent, image, ["uidcg"], snr_db=None)
    (req,) = engine.requests
    assert req.spans == [(0, 12), (4, 16)] and req.rows == 16
    strips = [wire.unpack(req.candidates[k]) for k in (0, 1)]
    merged = meg_strips.merge_parts(strips, req.spans, 16, 4, axis=1)
    assert np.array_equal(merged[:, :4], strips[0][:, :4]) and np.array_equal(merged[:, 12:], strips[1][:, 8:])
    lo = np.minimum(strips[0][:, 4:12], strips[1][:, :8]) - 1e-6
    hi = np.maximum(strips[0][:, 4:12], strips[1][:, :8]) + 1e-6
    assert ((merged[:, 4:12] >= lo) & (merged[:, 4:12] <= hi)).all()
    assert not np.array_equal(strips[0][:, 4:12], strips[1][:, :8])   # the ESs really disagree there
    _, [image_bytes] = agent.decode({"size": SIZE}, [wire.pack_latent(merged, "float32")])
    assert np.array_equal(req.result, wire.unpack(image_bytes))
    # DCSUC: the merged sketch is what the UE completed; it has the full sketch size.
    d = _run(agent, image, ["dcsuc"], snr_db=None).requests[0]
    sketches = [wire.unpack(d.candidates[k]) for k in (0, 1)]
    assert [s.shape for s in sketches] == [(24, SKETCH, 3), (24, SKETCH, 3)]
    assert meg_strips.merge_parts(sketches, d.spans, 16, 4, axis=0).shape == (SKETCH, SKETCH, 3)


@pytest.mark.slow
def test_same_seed_same_messages_and_images(agent, image):
    a = _run(agent, image, ["ciag", "dsuc"])
    b = _run(agent, image, ["ciag", "dsuc"])
    assert [m.row() for m in a.messages.values()] == [m.row() for m in b.messages.values()]
    for ra, rb in zip(a.requests, b.requests):
        assert np.array_equal(ra.result, rb.result) and ra.t_done == rb.t_done


def test_ue_slower_than_es_in_response_time(agent, image):
    fast = _run(agent, image, ["full_ue", "full_es"], snr_db=None).requests
    assert fast[0].t_done - fast[0].t_request == pytest.approx(4.0 * fast[1].compute_s["es0"])
    slow = _run(agent, image, ["full_ue"], snr_db=None, compute={"ue_slowdown": 8.0}).requests[0]
    assert slow.t_done - slow.t_request == pytest.approx(2 * (fast[0].t_done - fast[0].t_request))


def test_dead_edge_server_fails_its_requests_and_the_run_goes_on(agent, image):
    inner = local_caller({n: agent for n in [UE] + ES})

    def call(node, op, header, frames):
        if node == "es1":
            raise AgentUnavailable("agent es1 did not answer")
        return inner(node, op, header, frames)
    engine = _run(agent, image, ["uidcg", "ciag"], call=call)
    status = {r.protocol.name: r.status for r in engine.requests}
    assert status == {"uidcg": "agent_dead", "ciag": "ok"}      # ciag uses es0 only


def test_undecodable_payload_fails_the_request(agent, image):
    inner = local_caller({n: agent for n in [UE] + ES})

    def call(node, op, header, frames):
        if node == "es0":
            frames = [f[:-3] for f in frames]   # as if the unit arrived truncated
        try:
            return inner(node, op, header, frames)
        except wire.PayloadError as exc:       # what the bridge turns into an AgentError
            from gensemcom.bridge.client import AgentError
            raise AgentError(f"agent {node}: PayloadError: {exc}") from None
    (req,) = _run(agent, image, ["ciag"], call=call).requests
    assert req.status == "undecodable" and "needs" in req.error
