"""The router: phase configs, the catalog, per-phase prompts and output schemas."""
