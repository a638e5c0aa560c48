"""``python -m app.models check``: are the configured model ids still served by their providers?"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from datetime import date

from pydantic import ValidationError

from app.assembly import assemble
from app.errors import ConfigError
from app.models.check import check_models, exit_code, render
from app.phases.catalog import load_catalog
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES
from app.settings import Settings
from app.transport import Transport
from app.upstream_http import upstream_client

DESCRIPTION = """\
Builds the settings, the phase config and the providers exactly as the service does (.env and
PHASES_CONFIG_FILE included), asks each configured provider's model listing which ids it serves,
and prints every configured model id with its provider, its aliases and what the listing says.
Keys are sent to the providers only, never printed."""
EPILOG = """\
exit status: 0 every id that could be checked is served; 1 an id is not listed (or the provider
has already deprecated it); 2 a listing failed or the configuration is invalid."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.models",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check every configured model id against its provider's listing")
    return p


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    providers: Mapping[str, Provider] | None = None,
    transport: Transport | None = None,
    today: date | None = None,
) -> int:
    """Run the command; ``providers``, ``transport`` and ``today`` are for tests."""
    parser().parse_args(argv)
    try:
        settings = settings or Settings()
        return asyncio.run(_check(settings, dict(providers or {}), transport, today))
    except ConfigError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"configuration error: {exc.message}{hint}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a bad environment variable: name it, not the whole model
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        print(f"configuration error: {field}: {first['msg']}", file=sys.stderr)
        return 2


async def _check(
    settings: Settings,
    overrides: dict[str, Provider],
    transport: Transport | None,
    today: date | None,
) -> int:
    async with upstream_client(settings, transport) as client:
        catalog = load_catalog(settings.phases_config_file, known_providers={*PROVIDER_NAMES, *overrides})
        built = assemble(settings, client, catalog, overrides)
        rows = await check_models(built.roster.members(), today=today)
    print(render(rows))
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
