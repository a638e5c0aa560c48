"""The server's settings and the service's view of the same server agree (one .env configures both)."""

from __future__ import annotations

import pytest

from app.settings import LocalModelSettings
from local_model.settings import ServerSettings


def test_the_server_and_the_service_default_to_the_same_url_and_context() -> None:
    server = ServerSettings(_env_file=None)  # type: ignore[call-arg]
    service = LocalModelSettings(_env_file=None)  # type: ignore[call-arg]
    assert (server.url, server.context_per_slot) == (service.url, service.context_per_slot)


def test_both_read_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODEL_URL", "http://127.0.0.1:9911/v1")
    monkeypatch.setenv("LOCAL_MODEL_CONTEXT_PER_SLOT", "4096")
    monkeypatch.setenv("LOCAL_MODEL_SLOTS", "2")
    server = ServerSettings(_env_file=None)  # type: ignore[call-arg]
    service = LocalModelSettings(_env_file=None)  # type: ignore[call-arg]
    assert (server.url, server.context_per_slot, server.slots) == ("http://127.0.0.1:9911/v1", 4096, 2)
    assert (service.url, service.context_per_slot) == ("http://127.0.0.1:9911/v1", 4096)
