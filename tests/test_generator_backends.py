"""The offline default generator / split model (gsc_ldm), the naive baselines and the agent's use of them."""
import numpy as np
import pytest

from gensemcom.agents import images, ldm
from gensemcom.agents.backends import BackendError, build
from gensemcom.agents.backends.base import Generator, SplitModel
from gensemcom.agents.semantics import encode_edges, extract_edges

SIZE = 64


@pytest.fixture(scope="module")
def split():
    import torch
    torch.set_num_threads(1)
    return build("split", {"backend": "gsc_ldm", "steps": 4})


@pytest.fixture(scope="module")
def inputs():
    img = images.load_image("monarch", SIZE)
    return img, extract_edges(img), ldm.make_hint(img)


def test_protocols_and_shapes(split, inputs):
    img, edges, hint = inputs
    assert isinstance(split, SplitModel) and isinstance(split, Generator)
    assert split.latent_shape(SIZE) == (4, SIZE // 4, SIZE // 4)
    z0 = split.initial_latent(7, SIZE)
    assert z0.shape == split.latent_shape(SIZE) and z0.dtype == np.float32
    assert split.encode(img).shape == split.latent_shape(SIZE)
    assert split.decode(split.encode(img)).shape == img.shape
    with pytest.raises(ValueError):
        split.latent_shape(SIZE + 2)
    with pytest.raises(ValueError):
        split.denoise(z0, split.condition("x", edges, hint, SIZE), 3, 9)


def test_split_denoising_is_transparent(split, inputs):
    """Steps [0, k) on one node then [k, N) on another == [0, N) on one node (the latent
    crosses the network as float32 bytes)."""
    img, edges, hint = inputs
    cond = split.condition("a photo of a butterfly", edges, hint, SIZE)
    z0 = split.initial_latent(3, SIZE)
    full = split.denoise(z0, cond, 0, split.num_steps)
    for k in (1, 2):
        sent = split.denoise(z0, cond, 0, k).astype(np.float32).tobytes()
        received = np.frombuffer(sent, np.float32).reshape(z0.shape)
        other_node_cond = split.condition("a photo of a butterfly", edges, hint, SIZE)
        np.testing.assert_array_equal(split.denoise(received, other_node_cond, k, split.num_steps), full)


def test_generation_is_seeded_and_uses_the_conditioning(split, inputs):
    img, edges, hint = inputs
    a = split.generate("a photo of a butterfly", edges, hint, seed=1, size=SIZE)
    assert a.shape == (SIZE, SIZE, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, split.generate("a photo of a butterfly", edges, hint, seed=1, size=SIZE))
    assert not np.array_equal(a, split.generate("a photo of a butterfly", None, hint, seed=1, size=SIZE))
    # Missing streams are generated without, not an error.
    assert split.generate("", None, None, seed=1, size=SIZE).shape == (SIZE, SIZE, 3)


def test_generator_follows_the_colour_hint(split, inputs):
    """The output's mean colour tracks the hint's far better than a grey guess would."""
    img, edges, hint = inputs
    out = split.generate("", edges, hint, seed=0, size=SIZE).astype(float)
    err = np.abs(out.mean((0, 1)) - img.reshape(-1, 3).mean(0)).mean()
    grey_err = np.abs(128 - img.reshape(-1, 3).mean(0)).mean()
    assert err < 0.5 * grey_err


def test_baselines():
    img = images.load_image("tulips", SIZE)
    hint = ldm.make_hint(img)
    up = build("generator", {"backend": "hint_upsample"}).generate("", None, hint, 0, SIZE)
    assert up.shape == (SIZE, SIZE, 3)
    np.testing.assert_allclose(up.reshape(-1, 3).mean(0), hint.reshape(-1, 3).mean(0), atol=6)
    fill = build("generator", {"backend": "edge_fill"}).generate("", extract_edges(img), hint, 0, SIZE)
    assert fill.shape == (SIZE, SIZE, 3) and fill.mean() < up.mean()  # edges drawn in darken it


def test_unknown_backend_and_missing_weights(tmp_path):
    with pytest.raises(BackendError, match="available"):
        build("generator", {"backend": "nope"})
    with pytest.raises(BackendError, match="train_generator"):
        build("split", {"backend": "gsc_ldm", "path": str(tmp_path)})


def test_agent_generates_from_streams_and_degrades_gracefully():
    from gensemcom.agents.agent import SemanticAgent, encode_hint

    agent = SemanticAgent("generator", {"streams": ["prompt", "edge", "hint"], "seed": 1,
                                        "models": {"generator": {"backend": "gsc_ldm", "steps": 2}}})
    img = images.load_image("sail", SIZE)
    frames = [b"a photo of a sailboat", encode_edges(extract_edges(img)), encode_hint(ldm.make_hint(img))]
    header = {"streams": ["prompt", "edge", "hint"], "h": SIZE, "w": SIZE, "unit": 0, "format": "raw"}
    reply, out = agent.generate(header, frames)
    assert reply["used"] == ["prompt", "edge", "hint"] and reply["fallback"] is None
    assert len(out[0]) == SIZE * SIZE * 3
    broken = [frames[0], b"GSED garbage", frames[2][:-5]]
    reply, out = agent.generate(header, broken)
    assert reply["used"] == ["prompt"]
    assert "edge map undecodable" in reply["fallback"] and "hint" in reply["fallback"]
    assert len(out[0]) == SIZE * SIZE * 3


def test_registry_names_match_the_role_modules():
    import importlib

    from gensemcom.agents.backends import NAMES, ROLES

    for role in ROLES:
        module = importlib.import_module(f"gensemcom.agents.backends.{role}")
        assert tuple(sorted(module.BACKENDS)) == NAMES[role], role
        assert module.DEFAULT in NAMES[role]


def test_option_table_matches_the_constructors():
    import importlib
    import inspect

    from gensemcom.agents.backends import OPTIONS, ROLES

    seen = set()
    for role in ROLES:
        module = importlib.import_module(f"gensemcom.agents.backends.{role}")
        for name, cls in module.BACKENDS.items():
            params = inspect.signature(cls).parameters.values()
            named = tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
            expected = None if not named and any(p.kind == p.VAR_KEYWORD for p in params) else named
            assert OPTIONS[role, name] == expected, (role, name)
            seen.add((role, name))
    assert seen == set(OPTIONS)
