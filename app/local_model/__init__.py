"""The embedded local model: serving it (``python -m app.local_model``) and checking it is up."""
