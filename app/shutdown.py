"""How the programs that start a model server beside themselves end on SIGTERM."""

from __future__ import annotations

import signal
from types import FrameType


def stop_on_sigterm() -> None:
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
