"""``python -m app``: serve the API, and the local model beside it when that is what will answer.

With no cloud provider configured every phase runs on the local model, so this starts the bundled
llama.cpp server first (unless LOCAL_MODEL_AUTOSTART=false, or something already answers at
LOCAL_MODEL_URL), waits until it has loaded, serves the API, and stops both on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn

from app.autostart import local_model_server, roster_of
from app.banner import banner
from app.errors import ConfigError
from app.main import create_app
from app.settings import Settings
from app.shutdown import stop_on_sigterm


class _Announcing(uvicorn.Server):
    """uvicorn's server, saying in plain words where it listens once it does (not before: a port
    already taken must not be announced)."""

    def __init__(self, config: uvicorn.Config, text: str) -> None:
        super().__init__(config)
        self.text = text

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self.text, file=sys.stderr, flush=True)


def proxy_headers(settings: Settings) -> dict[str, Any]:
    """uvicorn's X-Forwarded-For handling, only for the peers in FORWARDED_ALLOW_IPS.

    uvicorn's own default trusts 127.0.0.1, so anything on the machine (or a port-forward) could
    name any client and get a fresh per-caller allowance; here the default trusts no one.
    """
    trusted = [entry for entry in settings.forwarded_allow_ips.split(",") if entry]
    if not trusted:
        return {"proxy_headers": False}
    # uvicorn reads "*" as "any peer" only when it stands alone.
    return {"proxy_headers": True, "forwarded_allow_ips": "*" if "*" in trusted else trusted}


def main() -> int:
    stop_on_sigterm()
    settings = Settings()
    try:
        app = create_app(settings)
        with local_model_server(settings):
            roster, providers = roster_of(settings)
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                **proxy_headers(settings),
            )
            _Announcing(config, banner(settings, roster=roster, providers=providers)).run()
    except KeyboardInterrupt:
        # Ctrl-C: uvicorn shut down gracefully, then raised the signal again; the model server
        # has been stopped on the way out. A stop that was asked for is a success (as uvicorn.run).
        return 0
    except ConfigError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"configuration error: {exc.message}{hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
