"""``python -m local_model``: serve the local model until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from local_model.server import Endpoint, LaunchError, endpoint_of, start
from local_model.settings import ServerSettings


def main(argv: list[str] | None = None) -> int:
    settings = ServerSettings()
    try:
        return _serve(settings, argv)
    except LaunchError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"local model: {exc.message}{hint}", file=sys.stderr)
        return 2


def _serve(settings: ServerSettings, argv: list[str] | None) -> int:
    default = endpoint_of(settings.url)
    parser = argparse.ArgumentParser(
        prog="python -m local_model", description="Serve the local model (llama.cpp, OpenAI-compatible)."
    )
    parser.add_argument("--host", default=default.host, help="default: LOCAL_MODEL_URL's host")
    parser.add_argument("--port", type=int, default=default.port, help="default: LOCAL_MODEL_URL's port")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    began = time.monotonic()
    server = start(settings, Endpoint(args.host, args.port))
    print(
        f"local model: serving on http://{args.host}:{args.port}/v1 "
        f"({settings.slots} slots, loaded in {time.monotonic() - began:.1f}s)",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
