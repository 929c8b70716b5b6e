"""Per-cloud stores for model weights and adapters."""
