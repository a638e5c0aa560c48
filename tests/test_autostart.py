"""When the service would start the local model server but the ``local`` extra is missing, it says
so once, with the install command, and serves on (phases answer 503 naming the server)."""

from __future__ import annotations

import sys

import pytest

from app.autostart import local_model_server
from app.settings import LocalModelSettings
from tests.support import free_port, make_settings


def test_a_missing_extra_is_named_and_no_server_is_started(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A None entry in sys.modules is how Python spells "this module cannot be imported".
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    url = f"http://127.0.0.1:{free_port()}/v1"
    local = LocalModelSettings(_env_file=None, url=url, autostart=True)  # type: ignore[call-arg]
    entered = False
    with local_model_server(make_settings(local_model=local)):
        entered = True
    assert entered
    message = capsys.readouterr().err.splitlines()
    assert message == [
        "local model: cannot start it, xllamacpp (llama.cpp's server) is not installed; "
        f"phases will answer 503 until a server answers at {url}",
        "  hint: pip install -e '.[local]' (make run does this)",
    ]
