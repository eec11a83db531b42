"""Tiny randomly initialised models shared by several test files (built offline, seeded)."""
from __future__ import annotations

import string

import torch


def tiny_clip(path):
    """A random 2-layer CLIP with a character-level BPE vocabulary, saved like a hub checkpoint."""
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor,
                              CLIPTokenizer)

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in string.ascii_lowercase:
            vocab[c + suffix] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    small = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(text_config=dict(vocab_size=len(vocab), max_position_embeddings=77,
                                         bos_token_id=0, eos_token_id=1, pad_token_id=1, **small),
                        vision_config=dict(image_size=32, patch_size=8, **small), projection_dim=16)
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return model, processor, tokenizer


def random_zoo_state(arch: str) -> dict:
    """A seeded, randomly initialised quality-1 model's state_dict.  The last convolutions of
    g_a and h_a are scaled up so that latents leave the CDFs' support: real streams' escape
    codes (bypass nibbles) are then exercised, not only near-zero symbols."""
    from compressai import zoo
    torch.manual_seed(0)
    model = getattr(zoo, arch.replace("-", "_"))(1, pretrained=False)
    with torch.no_grad():
        for part in ("g_a", "h_a"):
            if hasattr(model, part):
                [m for m in getattr(model, part).modules() if isinstance(m, torch.nn.Conv2d)][-1].weight *= 100
    return model.state_dict()
