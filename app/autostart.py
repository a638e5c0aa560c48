"""Start the bundled local model server beside a process that will call it, when it is needed.

``python -m app`` (the service) and ``python -m evaluation`` (the evaluation) both run phases on the
local roster when no cloud provider is configured; this starts ``python -m local_model`` for
them (unless LOCAL_MODEL_AUTOSTART=false, or something already answers at LOCAL_MODEL_URL), waits
until it has loaded, and stops it when the block ends.

The server is a program of its own (the ``local`` extra): it is run as a child process, never
imported, so a service installed without that extra still starts and says what is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import IO
from urllib.parse import urlsplit

import httpx

from app.errors import ConfigError
from app.local_health import health_url
from app.providers.registry import ProviderRegistry
from app.roster import RosterName, choose_roster
from app.settings import LocalModelSettings, Settings
from app.upstream_http import production_transport


def roster_of(settings: Settings) -> tuple[RosterName, list[str]]:
    """Which roster the app will use and which providers are configured: decided from the
    settings alone, as the app decides it."""
    client = production_transport(settings)  # adapters only keep it; nothing is sent
    try:
        registry = ProviderRegistry.from_settings(settings, client)
        providers = {n: registry.get(n) for n in registry.names()}
        usable = [name for name, provider in providers.items() if provider.available and name != "local"]
        return choose_roster(providers, settings.local_model), usable
    finally:
        asyncio.run(client.aclose())


# What the server needs beyond this distribution (the `local` extra); its absence is found
# without importing it (loading llama.cpp costs the service memory it never uses).
SERVER_MODULE = "xllamacpp"
INSTALL_HINT = "pip install -e '.[local]' (make run does this)"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname
    if host is None:
        raise ConfigError(f"LOCAL_MODEL_URL={url!r} names no host", hint="e.g. http://127.0.0.1:8080/v1")
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def local_model_server(settings: Settings, *, log: IO[bytes] | None = None) -> Iterator[None]:
    """Run the bundled model server for the lifetime of the block, when it is needed and ours.

    ``log`` takes the server's own output (llama.cpp logs every slot's timings), for a caller
    that draws on the terminal itself; by default it shares this process's stdout and stderr."""
    local = settings.local_model
    if not (local.autostart and roster_of(settings)[0] == "local"):
        yield
        return
    health = health_url(local.url)
    if not _is_loopback(local.url):
        print(f"local model: using the server at {local.url} (not a loopback address)", file=sys.stderr)
        yield
        return
    if _healthy(health):
        print(f"local model: reusing the server already answering at {local.url}", file=sys.stderr)
        yield
        return
    if importlib.util.find_spec(SERVER_MODULE) is None:
        # The API still starts: /readyz and every phase say plainly that the model is down.
        print(
            f"local model: cannot start it, {SERVER_MODULE} (llama.cpp's server) is not installed; "
            f"phases will answer 503 until a server answers at {local.url}\n  hint: {INSTALL_HINT}",
            file=sys.stderr,
        )
        yield
        return
    child = subprocess.Popen([sys.executable, "-m", "local_model"], stdout=log, stderr=log)
    try:
        _wait_until_ready(child, health, local)
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def _wait_until_ready(child: subprocess.Popen[bytes], health: str, local: LocalModelSettings) -> None:
    began = time.monotonic()
    while not _healthy(health):
        if child.poll() is not None:
            # The API still starts: /readyz and every phase say plainly that the model is down.
            print(
                f"local model: the server exited with code {child.returncode}; "
                "phases will answer 503 until it runs",
                file=sys.stderr,
            )
            return
        if time.monotonic() - began > local.startup_timeout_s:
            print(
                f"local model: not ready after {local.startup_timeout_s:g}s; serving anyway, "
                "/readyz reports its state",
                file=sys.stderr,
            )
            return
        time.sleep(0.25)
    print(f"local model: ready at {local.url} after {time.monotonic() - began:.1f}s", file=sys.stderr)
