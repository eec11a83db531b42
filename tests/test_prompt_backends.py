"""Prompt backends: EfficientNet-Lite0 ImageNet labels, BLIP captioning (tiny local model), descriptor."""
import numpy as np
import pytest
import torch

from gensemcom.agents import backends
from gensemcom.agents.backends import prompt
from gensemcom.agents.backends.base import BackendError, PromptExtractor
from gensemcom.agents.images import load_image, load_native
from gensemcom.agents.semantics import extract_prompt

torch.set_num_threads(1)

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet 281-285


@pytest.fixture(scope="module")
def classifier():
    return backends.build("prompt")  # the default: EfficientNet-Lite0


def test_imagenet_labels_are_readable_names():
    labels = prompt.imagenet_labels()
    assert len(labels) == 1000
    assert labels[281] == "tabby" and labels[285] == "Egyptian cat" and labels[967] == "espresso"
    assert all(labels) and max(map(len, labels)) < 40


def test_efficientnet_recognises_catalogue_images(classifier):
    chelsea = classifier.classify(load_image("chelsea", 128), k=5)
    assert chelsea[0][0] in CATS and len(CATS & {label for label, _ in chelsea}) >= 3
    coffee = classifier.classify(load_image("coffee", 128), k=5)
    assert coffee[0][0] in {"espresso", "cup", "coffee mug"} and coffee[0][1] > 0.5
    assert classifier.classify(load_image("kodim23", 128), k=1)[0][0] == "macaw"  # two parrots
    probs = [p for _, p in coffee]
    assert probs == sorted(probs, reverse=True) and 0.9 < sum(probs) <= 1.0 + 1e-5


def test_efficientnet_prompt_text(classifier):
    text = classifier.extract(load_image("chelsea", 128))
    assert text.startswith("a photo of ") and "cat" in text
    assert classifier.extract(load_image("coffee", 128)) == "a photo of an espresso"
    assert classifier.extract(load_native("chelsea")).endswith("cat")  # non-square input: centre crop
    assert isinstance(classifier, PromptExtractor) and classifier.name == "efficientnet_lite0"


def test_efficientnet_is_deterministic(classifier):
    img = load_image("astronaut", 128)
    assert classifier.extract(img) == classifier.extract(img.copy())
    assert classifier.classify(img) == classifier.classify(img)


def test_top_k_option():
    three = backends.build("prompt", {"top_k": 3}).extract(load_image("chelsea", 128))
    assert three.count(" or ") == 2 and len(three) <= prompt.MAX_PROMPT_CHARS
    with pytest.raises(BackendError):
        backends.build("prompt", {"top_k": 0})
    with pytest.raises(ValueError):
        backends.build("prompt").extract(np.zeros((8, 8), np.uint8))


# --- BLIP from a tiny random model on disk ------------------------------------------------
def tiny_blip(directory, word="cat"):
    """Save a tiny BLIP + processor whose decoder always prefers `word`."""
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + "a photo of cat dog on the table".split()
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)}, bos_token="[DEC]")
    ids = dict(bos_token_id=tokenizer.bos_token_id, sep_token_id=tokenizer.sep_token_id,
               eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id)
    tiny = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    config = BlipConfig(text_config=dict(vocab_size=len(words), max_position_embeddings=32, **ids, **tiny),
                        vision_config=dict(image_size=32, patch_size=8, **tiny),
                        projection_dim=16, image_text_hidden_size=16)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config)
    with torch.no_grad():
        head = model.text_decoder.cls.predictions
        head.decoder.bias.zero_()[words.index(word)] = 100.0
        head.bias.copy_(head.decoder.bias)
    model.save_pretrained(directory)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=tokenizer).save_pretrained(directory)
    return directory


def test_blip_backend_loads_a_local_model_and_captions(tmp_path):
    spec = {"backend": "blip", "model": str(tiny_blip(tmp_path / "blip")), "max_new_tokens": 4}
    captioner = backends.build("prompt", spec)
    assert captioner.name == "blip" and isinstance(captioner, PromptExtractor)
    img = load_image("chelsea", 64)
    caption = captioner.extract(img)
    assert caption == "cat cat cat cat"  # 4 greedy tokens, special tokens stripped
    assert captioner.extract(img) == caption


def test_blip_missing_model_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="BLIP"):
        backends.build("prompt", {"backend": "blip", "model": str(tmp_path / "no-such-model")})


# --- descriptor and registry ------------------------------------------------------------------
def test_descriptor_is_the_semantics_prompt():
    img = load_image("coffee", 128)
    assert backends.build("prompt", {"backend": "descriptor"}).extract(img) == extract_prompt(img)


def test_registry():
    assert backends.available("prompt") == ["blip", "descriptor", "efficientnet_lite0"]
    assert prompt.DEFAULT == "efficientnet_lite0"
    with pytest.raises(BackendError, match="unknown prompt backend"):
        backends.build("prompt", {"backend": "clip"})
