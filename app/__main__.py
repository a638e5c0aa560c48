"""``python -m app``: serve the API, and the local model beside it when that is what will answer.

With no cloud provider configured every phase runs on the local model, so this starts the bundled
llama.cpp server first (unless LOCAL_MODEL_AUTOSTART=false, or something already answers at
LOCAL_MODEL_URL), waits until it has loaded, serves the API, and stops both on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import sys

import uvicorn

from app.errors import ConfigError
from app.local_model.autostart import local_model_server
from app.main import create_app
from app.settings import Settings
from app.shutdown import stop_on_sigterm


def main() -> int:
    stop_on_sigterm()
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
