"""agents.device: device names, the dtype rule, placed networks, each backend's device option, and
the agents handing the configured device to the models that take one (CPU only: a CUDA-less
machine is what the errors are checked on; the placing hooks are checked on the CPU in float16)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gensemcom.agents import backends
from gensemcom.agents.backends import OPTIONS, with_device
from gensemcom.agents.backends.base import BackendError
from gensemcom.agents.backends.device import model_dtype, place, resolve_device, valid_device
from gensemcom.agents.images import load_image

torch.set_num_threads(1)
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without CUDA")
IMAGE = load_image("chelsea", 64)


# --- names, errors, dtype -------------------------------------------------------------
def test_auto_is_the_cpu_without_cuda():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_a_one_line_error_naming_the_device(name):
    with pytest.raises(BackendError) as exc:
        resolve_device(name)
    assert f"device {name!r}" in str(exc.value) and "no CUDA device" in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cpu:0", "", 3])
def test_bad_names_are_one_line_errors(name):
    assert not valid_device(name)
    with pytest.raises(BackendError, match=r"^device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got"):
        resolve_device(name)


def test_half_precision_only_on_cuda_and_only_where_asked():
    assert model_dtype(torch.device("cpu")) == torch.float32
    assert model_dtype(torch.device("cuda")) == torch.float16
    assert model_dtype(torch.device("cuda"), half=False) == torch.float32


# --- place: CPU untouched; elsewhere CPU float32 in and out ------------------------------------
def test_place_leaves_a_cpu_float32_module_untouched():
    net = torch.nn.Linear(3, 2)
    assert place(net, "cpu") is net and not net._forward_hooks and not net._forward_pre_hooks


def test_placed_module_takes_and_gives_cpu_float32():
    """float16 on the CPU runs the same hooks as float16 on CUDA: inputs (args, kwargs, nested)
    cast in, every floating output (a model output's fields too) cast back to float32."""
    from transformers import AutoModel, AutoTokenizer

    from gensemcom.agents.backends.text import minilm_dir

    path = str(minilm_dir())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    ref = AutoModel.from_pretrained(path, local_files_only=True).eval()
    half = place(AutoModel.from_pretrained(path, local_files_only=True).eval(), "cpu", torch.float16)
    assert next(half.parameters()).dtype == torch.float16
    batch = tokenizer(["a photo of a cat"], return_tensors="pt")
    with torch.inference_mode():
        want, got = ref(**batch), half(**batch)
    assert got.last_hidden_state.dtype == torch.float32 and got.last_hidden_state.device.type == "cpu"
    assert torch.allclose(got.last_hidden_state, want.last_hidden_state, atol=0.05)


# --- each backend: device="cpu" is the default here, with the same output ------------------------
def _same(role: str, spec: dict, run):
    default, cpu = backends.build(role, spec), backends.build(role, {**spec, "device": "cpu"})
    assert str(cpu.device) == "cpu"
    a, b = run(default), run(cpu)
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_hed_on_the_cpu():
    _same("edges", {"backend": "hed"}, lambda m: m.probability(IMAGE))


def test_efficientnet_on_the_cpu():
    _same("prompt", {"backend": "efficientnet_lite0"}, lambda m: m.classify(IMAGE, 3))


def test_minilm_on_the_cpu():
    _same("text", {"backend": "minilm"}, lambda m: m.encode(["a photo of a cat", "a red car"]))


def test_learned_codec_on_the_cpu():
    _same("codec", {"backend": "learned", "rate": "low"}, lambda m: m.encode(IMAGE))
    codec = backends.build("codec", {"backend": "learned", "rate": "low", "device": "cpu"})
    np.testing.assert_array_equal(codec.decode(codec.encode(IMAGE)),
                                  backends.build("codec", {"backend": "learned", "rate": "low"}).decode(codec.encode(IMAGE)))


def test_gsc_ldm_on_the_cpu():
    def run(m):
        latent = m.encode(IMAGE)
        assert latent.dtype == np.float32
        cond = m.condition("a cat", None, None, 64)
        return np.concatenate([latent.ravel(), m.denoise(m.initial_latent(1, 64), cond, 0, 1).ravel(),
                               m.decode(latent, cond).ravel().astype(np.float32)])
    _same("split", {"backend": "gsc_ldm", "steps": 2}, run)


def test_metrics_on_the_cpu():
    from gensemcom.analysis.fid import inception_features
    from gensemcom.analysis.lpips import lpips

    other = load_image("coffee", 64)
    assert lpips(IMAGE, other, device=torch.device("cpu")) == lpips(IMAGE, other)
    np.testing.assert_array_equal(inception_features([IMAGE], device="cpu"), inception_features([IMAGE]))


# --- the agents hand the configured device to the models that take one --------------------------
def test_device_goes_into_the_specs_that_take_one():
    assert with_device("edges", {"backend": "hed"}, "cuda:1") == {"backend": "hed", "device": "cuda:1"}
    assert with_device("split", None, "cpu") == {"device": "cpu"}                      # the default, gsc_ldm
    assert with_device("split", {"backend": "sd_split", "model": "m"}, "cpu")["device"] == "cpu"  # any options
    assert with_device("codec", {"backend": "learned", "device": "cpu"}, "cuda") == {"backend": "learned", "device": "cpu"}
    for role, name in [("codec", "jpeg"), ("edges", "canny"), ("prompt", "descriptor"), ("generator", "hint_upsample")]:
        assert OPTIONS[role, name] is not None and "device" not in OPTIONS[role, name]
        assert with_device(role, {"backend": name}, "cuda") == {"backend": name}


@no_cuda
def test_agent_gives_the_device_only_to_models_that_take_one():
    from gensemcom.agents.agent import SemanticAgent

    # canny and jpeg take no device: "cuda" on a CUDA-less machine does not reach them.
    options = {"streams": ["edge", "latent"], "device": "cuda",
               "models": {"edges": {"backend": "canny"}, "codec": {"backend": "jpeg"}}}
    agent = SemanticAgent("encoder", options)
    assert agent.info()["edges"] == "canny" and agent.info()["codec"].startswith("jpeg")
    # HED does: the agent's device reaches it, unless its spec names its own.
    with pytest.raises(BackendError, match="device 'cuda'"):
        SemanticAgent("encoder", {**options, "models": {"edges": {"backend": "hed"}, "codec": {"backend": "jpeg"}}})
    agent = SemanticAgent("encoder", {**options, "models": {"edges": {"backend": "hed", "device": "cpu"},
                                                            "codec": {"backend": "jpeg"}}})
    assert str(agent.models["edges"].device) == "cpu"


def test_each_worker_gets_its_device():
    import json
    from pathlib import Path

    from gensemcom.config import parse_config
    from gensemcom.core.agent_set import semantic_unit_agents

    data = json.loads((Path(__file__).resolve().parents[1] / "configs" / "gen_semcom.json").read_text())
    data["agents"] = {**data.get("agents", {}), "workers": 2, "device": ["cuda:1", "cpu"]}
    agents = semantic_unit_agents(parse_config(data))
    assert {name: options["device"] for name, (_, options) in agents.items()} == {
        "encoder": "cuda:1", "encoder-2": "cpu", "generator": "cuda:1", "generator-2": "cpu"}
