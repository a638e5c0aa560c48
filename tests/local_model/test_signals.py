"""However `python -m app` is stopped, the model server it started stops with it.

Ctrl-C is SIGINT; systemd, Docker, Kubernetes and `kill` send SIGTERM. Before, SIGTERM killed the
API on the spot and left the llama.cpp server running as an orphan (parent 1, its port held).
"""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest

pytestmark = pytest.mark.needs_local_model


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_stops_the_service_and_its_model_server(
    service: tuple[str, str, subprocess.Popen[bytes]], stop: signal.Signals
) -> None:
    origin, model_url, process = service
    health = model_url.removesuffix("/v1") + "/health"
    assert httpx.get(health, timeout=5).status_code == 200  # the service started it, and it runs

    process.send_signal(stop)
    assert process.wait(timeout=30) == 0  # a stop that was asked for and completed
    with pytest.raises(httpx.ConnectError):
        httpx.get(health, timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(origin + "/healthz", timeout=2)
