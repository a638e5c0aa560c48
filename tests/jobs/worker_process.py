"""A run worker against a fake upstream: ``python -m tests.jobs.worker_process REDIS_URL ORIGIN``.

The real entry point's ``serve`` (what ``python -m app.worker`` runs) with settings pointing every
provider at the fake upstream at ORIGIN and a short lease, so a test can ``kill -9`` it mid-run.
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import SecretStr

from app.worker import serve
from tests.fakes.upstream import base_urls
from tests.support import upstream_settings

LEASE_S = 3


def main() -> None:
    redis_url, origin = sys.argv[1], sys.argv[2]
    settings = upstream_settings(base_urls(origin), redis_url=SecretStr(redis_url), run_lease_s=LEASE_S)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
