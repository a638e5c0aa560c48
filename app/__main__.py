"""``python -m app``: serve the API, and the local model beside it when that is what will answer.

With no cloud provider configured every phase runs on the local model, so this starts the bundled
llama.cpp server first (unless LOCAL_MODEL_AUTOSTART=false, or something already answers at
LOCAL_MODEL_URL), waits until it has loaded, serves the API, and stops both on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn

from app.errors import ConfigError
from app.local_model.autostart import local_model_server
from app.main import create_app
from app.settings import Settings


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, Docker, Kubernetes, ``kill``) ends the process the way Ctrl-C does.

    Python's default for SIGTERM is to die on the spot, skipping every ``finally``: the model
    server started beside the API was left running as an orphan, holding its port and ~800 MB.
    uvicorn handles SIGTERM itself while it serves (a graceful shutdown), then raises the signal
    again once it has stopped; this handler turns that, or a SIGTERM while the model server is
    still loading, into SystemExit, so the model server is stopped on the way out.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # a stop that was asked for and completed, as Ctrl-C's is

    signal.signal(signal.SIGTERM, stop)


def main() -> int:
    _stop_on_sigterm()
    settings = Settings()
    try:
        app = create_app(settings)
        with local_model_server(settings):
            uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    except ConfigError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"configuration error: {exc.message}{hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
