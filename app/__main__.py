"""``python -m app``: serve with uvicorn on the configured host and port."""

from __future__ import annotations

import sys

import uvicorn

from app.errors import ConfigError
from app.main import create_app
from app.settings import Settings


def main() -> int:
    settings = Settings()
    try:
        app = create_app(settings)
    except ConfigError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"configuration error: {exc.message}{hint}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
