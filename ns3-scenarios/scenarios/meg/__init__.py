"""Mobile edge generation (mobile-edge-generation.md)."""
