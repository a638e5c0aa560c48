"""Shared test helpers: settings that ignore the developer's environment, fake-provider apps."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from app.domain import CompletionRequest
from app.main import create_app
from app.phases.catalog import PhaseCatalog, load_catalog
from app.providers.fake import FakeProvider, Reply, info
from app.settings import (
    AnthropicSettings,
    LocalModelSettings,
    MiniMaxSettings,
    OpenAICompatSettings,
    Settings,
    WorkersAISettings,
)

FIXTURES = Path(__file__).parent / "fixtures" / "phase_outputs"
PROVIDERS = ("workers_ai", "anthropic", "minimax", "openai_compat")


@cache
def _fixture_text(phase: str) -> str:
    return (FIXTURES / f"{phase}.json").read_text(encoding="utf-8")


def fixture(phase: str) -> dict[str, Any]:
    """A valid example output of ``phase`` (a fresh copy)."""
    value: dict[str, Any] = json.loads(_fixture_text(phase))
    return value


_catalogs: dict[tuple[str, frozenset[str], Path | None], PhaseCatalog] = {}
_catalogs_lock = threading.Lock()  # apps served by uvicorn load theirs in another thread


def catalog_for(
    config_file: Path | None = None, *, known_providers: Collection[str] = PROVIDERS
) -> PhaseCatalog:
    """``load_catalog``, built once per config for the whole test session.

    Checking fifteen phase schemas costs ~0.5 s of CPU; run for every app and module it dominated
    the suite. A catalog is read-only data (one app already shares it between concurrent requests),
    so tests and apps with the same config share one. A config naming prompt or schema files of its
    own is keyed by its folder too, as those paths are relative to it. Bad configs are never cached.
    """
    try:
        text = config_file.read_text(encoding="utf-8") if config_file else ""
    except (OSError, ValueError):
        return load_catalog(config_file, known_providers=known_providers)  # it says what is wrong
    folder = config_file.parent.resolve() if config_file and "_file" in text else None
    key = (text, frozenset(known_providers), folder)
    with _catalogs_lock:
        if key not in _catalogs:
            _catalogs[key] = load_catalog(config_file, known_providers=known_providers)
        return _catalogs[key]


def make_settings(**overrides: Any) -> Settings:
    """Settings from arguments only: no environment, no .env, no keys unless given."""
    subs: dict[str, Any] = {
        "workers_ai": WorkersAISettings(_env_file=None),  # type: ignore[call-arg]
        "anthropic": AnthropicSettings(_env_file=None),  # type: ignore[call-arg]
        "minimax": MiniMaxSettings(_env_file=None),  # type: ignore[call-arg]
        "openai_compat": OpenAICompatSettings(_env_file=None),  # type: ignore[call-arg]
        # Off unless a test asks for it: nothing may depend on a model server on this machine.
        "local_model": LocalModelSettings(_env_file=None, enabled=False),  # type: ignore[call-arg]
        # Real retry behaviour, on a test's time scale.
        "retry_base_s": 0.01,
        "retry_max_backoff_s": 0.05,
        # Each test repeats requests on purpose; the cache's and the gate's own tests switch these on.
        "cache_ttl_s": 0,
        "rate_limit": "off",
        # Fakes are no provider's account: its documented budgets (Workers AI's 300 calls a minute
        # per model) would hold a long test's calls back. tests/resilience/test_budgets.py checks them.
        "model_limits": {"workers_ai/*": {}},
        # A loopback round trip to a test's redis-server has taken over the shipped 0.5 s on a busy
        # CI machine; an unreachable Redis (a free port) is refused at once, whatever this is.
        "redis_timeout_s": 5.0,
    }
    subs.update(overrides)
    return Settings(_env_file=None, **subs)  # type: ignore[call-arg]


def upstream_settings(urls: Mapping[str, str], **overrides: Any) -> Settings:
    """Every provider configured and pointed at a fake upstream's ``base_urls()``."""
    return make_settings(
        workers_ai=WorkersAISettings(  # type: ignore[call-arg]
            _env_file=None, account_id="acct-1", api_token=SecretStr("fake-key"), base_url=urls["workers_ai"]
        ),
        anthropic=AnthropicSettings(  # type: ignore[call-arg]
            _env_file=None, api_key=SecretStr("fake-key"), base_url=urls["anthropic"]
        ),
        minimax=MiniMaxSettings(_env_file=None, api_key=SecretStr("fake-key"), base_url=urls["minimax"]),  # type: ignore[call-arg]
        openai_compat=OpenAICompatSettings(  # type: ignore[call-arg]
            _env_file=None, base_url=urls["openai_compat"], model="local-gemma"
        ),
        **overrides,
    )


def keyed_settings(**overrides: Any) -> Settings:
    """Settings with dummy credentials for every provider."""
    return make_settings(
        workers_ai=WorkersAISettings(_env_file=None, account_id="acct", api_token=SecretStr("cf-test-token")),  # type: ignore[call-arg]
        anthropic=AnthropicSettings(_env_file=None, api_key=SecretStr("sk-ant-test")),  # type: ignore[call-arg]
        minimax=MiniMaxSettings(_env_file=None, api_key=SecretStr("mm-test-key")),  # type: ignore[call-arg]
        openai_compat=OpenAICompatSettings(_env_file=None, base_url="http://127.0.0.1:9/v1"),  # type: ignore[call-arg]
        **overrides,
    )


def fixture_responder(request: CompletionRequest) -> Reply:
    """Answers like a model that follows the prompts: the phase's fixture, or [] for wild ideas."""
    call = info(request)
    return "[]" if call.role == "wild_ideas" else _fixture_text(call.phase)


def fake_providers(
    responder: Callable[[CompletionRequest], Reply] = fixture_responder,
    *,
    unavailable: tuple[str, ...] = (),
) -> dict[str, FakeProvider]:
    """One fake per real provider name, so the default phase config runs unchanged."""
    return {
        name: FakeProvider(
            name,
            responder=responder,
            available=name not in unavailable,
            default_model="local-model",
            missing_settings=(f"{name.upper()}_API_KEY",),
        )
        for name in PROVIDERS
    }


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, with its lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@asynccontextmanager
async def fake_app(
    providers: Mapping[str, FakeProvider] | None = None, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Mapping[str, FakeProvider]]]:
    """The real app with fake providers, and a client for it."""
    fakes = providers if providers is not None else fake_providers()
    app = create_app(make_settings(**settings), providers=fakes)
    async with client_for(app) as client:
        yield client, fakes


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port in a thread; yields its origin."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
    """Ask ``process`` to stop with ``sig`` (as a process manager or Ctrl-C would); kill it if it
    has not stopped within ``timeout_s``."""
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_ready(origin: str, process: subprocess.Popen[Any], timeout_s: float) -> None:
    """Return once ``python -m app`` at ``origin`` answers ``/readyz`` with 200; raise if the
    process exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"python -m app exited with {process.returncode}")
        try:
            if httpx.get(f"{origin}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{origin}/readyz not ready within {timeout_s:g}s")
