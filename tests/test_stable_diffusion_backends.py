"""Pretrained Stable Diffusion backends, loaded by path from tiny random checkpoints written in
the layout real ones use: generator determinism, the split model's transparency (running steps
[0, k) then [k, N) equals [0, N)), shapes, and agreement of the explicit DDIM loop with the
diffusers pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from gensemcom.agents.backends.base import BackendError, Generator, SplitModel  # noqa: E402
from gensemcom.agents.backends.stable_diffusion import SDControlNetGenerator, SDSplitModel  # noqa: E402

SIZE, STEPS = 32, 4
PROMPT = "a cat on a mat"


def _tokenizer(directory):
    """A CLIP BPE tokenizer from a hand-written vocab.json / merges.txt (letters + a few merges)."""
    from transformers import CLIPTokenizer

    directory.mkdir()
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = list(letters) + [c + "</w>" for c in letters] + ["at</w>", "cat</w>", "mat</w>", "on</w>"]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (directory / "merges.txt").write_text("#version: 0.2\na t</w>\nc at</w>\nm at</w>\no n</w>\n")
    return CLIPTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"),
                         model_max_length=77)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(SD pipeline dir, ControlNet dir) of tiny random models; VAE scale factor 2."""
    from diffusers import (AutoencoderKL, ControlNetModel, DDIMScheduler, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("sd")
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, attention_head_dim=4)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=1000,
        max_position_embeddings=77, bos_token_id=56, eos_token_id=57, pad_token_id=57))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=_tokenizer(root / "tok"), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(root / "sd")
    # One stride-2 conv in the control embedding, matching the VAE's factor 2. Random weights
    # replace the zero convolutions so that edges actually change the output.
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32))
    with torch.no_grad():
        for p in controlnet.parameters():
            if not p.any():
                p.normal_(0.0, 0.1)
    controlnet.save_pretrained(root / "controlnet")
    return str(root / "sd"), str(root / "controlnet")


@pytest.fixture(scope="module")
def edges():
    e = np.zeros((SIZE, SIZE), bool)
    e[8, 4:28] = e[4:28, 20] = True
    return e


@pytest.fixture(scope="module")
def generator(checkpoints):
    model, controlnet = checkpoints
    return SDControlNetGenerator(model, controlnet, steps=STEPS, device="cpu", hint_strength=0.75)


@pytest.fixture(scope="module")
def split(checkpoints):
    return SDSplitModel(checkpoints[0], steps=STEPS, device="cpu")


@pytest.fixture(scope="module")
def split_cn(checkpoints):
    return SDSplitModel(checkpoints[0], steps=STEPS, device="cpu", controlnet=checkpoints[1])


def test_generator_is_deterministic_per_seed(generator, edges):
    assert isinstance(generator, Generator)
    a = generator.generate(PROMPT, edges, None, seed=1, size=SIZE)
    assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE, 3)
    assert np.array_equal(a, generator.generate(PROMPT, edges, None, seed=1, size=SIZE))
    assert not np.array_equal(a, generator.generate(PROMPT, edges, None, seed=2, size=SIZE))
    assert not np.array_equal(a, generator.generate(PROMPT, None, None, seed=1, size=SIZE))


def test_generator_hint_is_an_img2img_start(generator, edges):
    hint = np.full((8, 8, 3), (200, 30, 30), np.uint8)
    with_hint = generator.generate(PROMPT, edges, hint, seed=1, size=2 * SIZE)
    assert with_hint.shape == (2 * SIZE, 2 * SIZE, 3) and with_hint.dtype == np.uint8
    assert not np.array_equal(with_hint, generator.generate(PROMPT, edges, None, seed=1, size=2 * SIZE))


@pytest.mark.parametrize("use_edges", [False, True])
@pytest.mark.parametrize("k", [0, 1, 3, STEPS])
@pytest.mark.slow
def test_split_is_transparent(split, split_cn, edges, use_edges, k):
    model = split_cn if use_edges else split
    cond = model.condition(PROMPT, edges if use_edges else None, None, SIZE)
    x = model.initial_latent(5, SIZE)
    whole = model.denoise(x, cond, 0, STEPS)
    # Node A runs [0, k), the latent crosses the network as float32, node B runs [k, N)
    # with a condition it computed itself.
    handed_over = np.frombuffer(model.denoise(x, cond, 0, k).tobytes(), np.float32).reshape(x.shape)
    parted = model.denoise(handed_over, model.condition(PROMPT, edges if use_edges else None, None, SIZE),
                           k, STEPS)
    assert np.array_equal(parted, whole)
    assert not np.allclose(whole, x)


def test_split_without_guidance_is_transparent(checkpoints):
    model = SDSplitModel(checkpoints[0], steps=STEPS, guidance_scale=1.0, device="cpu")
    cond = model.condition(PROMPT, None, None, SIZE)
    assert cond.embeddings.shape[0] == 1  # no unconditional branch
    x = model.initial_latent(5, SIZE)
    assert np.array_equal(model.denoise(model.denoise(x, cond, 0, 2), cond, 2, STEPS), model.denoise(x, cond, 0, STEPS))


def test_controlnet_edges_change_the_latent(split_cn, edges):
    x = split_cn.initial_latent(5, SIZE)
    plain = split_cn.denoise(x, split_cn.condition(PROMPT, None, None, SIZE), 0, STEPS)
    guided = split_cn.denoise(x, split_cn.condition(PROMPT, edges, None, SIZE), 0, STEPS)
    assert not np.allclose(plain, guided)


def test_split_shapes_and_seeds(split):
    assert isinstance(split, SplitModel) and split.num_steps == STEPS
    x = split.initial_latent(3, SIZE)
    assert x.dtype == np.float32 and x.shape == split.latent_shape(SIZE) == (4, SIZE // 2, SIZE // 2)
    assert np.array_equal(x, split.initial_latent(3, SIZE)) and not np.array_equal(x, split.initial_latent(4, SIZE))
    image = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    z = split.encode(image)
    assert z.dtype == np.float32 and z.shape == x.shape
    out = split.decode(z)
    assert out.dtype == np.uint8 and out.shape == (SIZE, SIZE, 3)
    assert split.denoise(x, split.condition(PROMPT, None, None, SIZE), 2, 2) is not x
    with pytest.raises(ValueError):
        split.denoise(x, split.condition(PROMPT, None, None, SIZE), 3, STEPS + 1)
    with pytest.raises(ValueError):
        split.latent_shape(SIZE + 1)


@pytest.mark.parametrize("use_edges", [False, True])
def test_split_matches_the_diffusers_pipeline(generator, split_cn, edges, use_edges):
    """Same seed, sampler and guidance: the explicit loop reproduces StableDiffusionControlNetPipeline
    (up to float rounding from batching the two prompts through the text encoder together)."""
    e = edges if use_edges else None
    latent = split_cn.denoise(split_cn.initial_latent(7, SIZE), split_cn.condition(PROMPT, e, None, SIZE), 0, STEPS)
    ours = split_cn.decode(latent).astype(int)
    theirs = generator.generate(PROMPT, e, None, seed=7, size=SIZE).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_missing_checkpoints_raise_backend_error(tmp_path, checkpoints):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(BackendError, match="nowhere"):
        SDSplitModel(missing, device="cpu")
    with pytest.raises(BackendError, match="ControlNet"):
        SDControlNetGenerator(checkpoints[0], missing, device="cpu")
    with pytest.raises(BackendError, match="VAE"):  # a directory without the SD parts
        SDSplitModel(checkpoints[1], device="cpu")


def test_offline_unknown_hub_id_raises_backend_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackendError, match="HF_HUB_OFFLINE"):
        SDSplitModel("no-such-org/no-such-model", device="cpu")
