"""A replica that is about to crash: ``python -m tests.store.crashing_replica PORT STORE``.

Serves the real app on fake providers whose fan-out never answers, on the store given as
``sqlite:PATH`` or a ``redis://`` URL, so a test can start a keyed run on it and ``kill -9`` it
mid-run, leaving the run's lock behind.
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import SecretStr

from app.domain import CompletionRequest
from app.main import create_app
from app.providers.fake import Delayed, Reply
from tests.support import fake_providers, fixture_responder, make_settings


def never(request: CompletionRequest) -> Reply:
    return Delayed(3600, fixture_responder(request))


def main() -> None:
    port, store = int(sys.argv[1]), sys.argv[2]
    if store.startswith("sqlite:"):
        settings = make_settings(store_backend="sqlite", store_path=store.removeprefix("sqlite:"))
    else:
        settings = make_settings(store_backend="redis", redis_url=SecretStr(store))
    app = create_app(settings, providers=fake_providers(never))
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None)


if __name__ == "__main__":
    main()
