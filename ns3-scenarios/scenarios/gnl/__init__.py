"""The generative network layer (generative-network-layer.md)."""
