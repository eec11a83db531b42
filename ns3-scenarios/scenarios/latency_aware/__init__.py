"""The latency-aware multi-stream scheme (latency-aware-generative-semcom.md)."""
