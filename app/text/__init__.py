"""Text handling shared by every layer: no model calls, no providers."""
