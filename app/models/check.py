"""``check_models``: every configured model id, and whether its provider's listing still has it.

Providers retire models every few months (Workers AI gave three weeks' notice in 2026). The
service notices a retired id on its first "no such model" answer (the circuit opens, /readyz names
it); this check notices before any request does, by asking each configured provider's own model
listing once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol, runtime_checkable

from app.providers.base import Provider
from app.providers.errors import ProviderError
from app.providers.listing import ListedModel
from app.roster import Member

Verdict = Literal["listed", "retiring", "deprecated", "not_listed", "no_listing", "not_configured", "failed"]
PROBLEMS: frozenset[Verdict] = frozenset({"deprecated", "not_listed"})
"""Verdicts that make the check fail: a request to this id fails now or is about to."""

NO_LISTING_API = {"local": "the embedded llama.cpp server answers to any model id"}
"""Providers whose listing says nothing about the ids configured for them."""

_SNAPSHOT = re.compile(r"-\d{8}$")


@runtime_checkable
class Lister(Protocol):
    """A provider that can say which model ids it serves."""

    async def list_models(self) -> list[ListedModel]: ...


@dataclass(frozen=True, slots=True)
class Row:
    """One configured model id and what its provider's listing says about it."""

    provider: str
    model_id: str
    aliases: tuple[str, ...]
    verdict: Verdict
    detail: str

    @property
    def problem(self) -> bool:
        return self.verdict in PROBLEMS


@dataclass(frozen=True, slots=True)
class _Listing:
    models: list[ListedModel] | None = None
    reason: Verdict = "listed"
    detail: str = ""


async def check_models(members: Iterable[Member], *, today: date | None = None) -> list[Row]:
    """Ask each provider named by ``members`` for its listing once, then judge every model id."""
    today = today or date.today()
    by_id: dict[tuple[str, str], list[str]] = {}
    providers: dict[str, Provider] = {}
    for member in members:
        by_id.setdefault((member.ref.provider, member.ref.model_id), []).append(member.ref.alias)
        providers.setdefault(member.ref.provider, member.provider)
    names = sorted(providers)
    listings = dict(zip(names, await asyncio.gather(*(_listing(providers[n]) for n in names)), strict=True))
    return [
        _judge(provider, model_id, tuple(sorted(aliases)), listings[provider], today)
        for (provider, model_id), aliases in sorted(by_id.items())
    ]


async def _listing(provider: Provider) -> _Listing:
    if provider.name in NO_LISTING_API:
        return _Listing(reason="no_listing", detail=NO_LISTING_API[provider.name])
    if not isinstance(provider, Lister):
        return _Listing(reason="no_listing", detail="provider has no listing API")
    if not provider.available:
        missing = ", ".join(provider.missing_settings)
        return _Listing(reason="not_configured", detail=f"provider not configured (set {missing})")
    try:
        return _Listing(await provider.list_models())
    except ProviderError as exc:
        return _Listing(reason="failed", detail=f"listing failed: {exc}; {_fix(exc)}")


def _judge(provider: str, model_id: str, aliases: tuple[str, ...], listing: _Listing, today: date) -> Row:
    def row(verdict: Verdict, detail: str) -> Row:
        return Row(provider, model_id, aliases, verdict, detail)

    if listing.models is None:
        return row(listing.reason, listing.detail)
    match = served_as(model_id, listing.models)
    if match is None:
        return row("not_listed", "NOT LISTED: the provider does not serve this id")
    if match.deprecation is not None and match.deprecation <= today:
        return row("deprecated", f"DEPRECATED since {match.deprecation.isoformat()}")
    if match.deprecation is not None:
        return row("retiring", f"listed; the provider retires it on {match.deprecation.isoformat()}")
    return row("listed", "listed" if match.id == model_id else f"listed (as {match.id})")


def served_as(model_id: str, listed: Sequence[ListedModel]) -> ListedModel | None:
    """The listed model ``model_id`` names: the same id, or a dated snapshot of that alias
    (Anthropic lists ``claude-sonnet-4-5-20250929`` for the alias ``claude-sonnet-4-5``)."""
    exact = next((m for m in listed if m.id == model_id), None)
    if exact is not None:
        return exact
    return next(
        (m for m in listed if m.id.startswith(model_id) and _SNAPSHOT.fullmatch(m.id[len(model_id) :])),
        None,
    )


def _fix(error: ProviderError) -> str:
    """What to do about a failed listing, in one clause."""
    if error.kind == "auth_error":
        return "check the provider's key (it must be allowed to read the model list)"
    if error.kind in ("timeout", "connection"):
        return "check the provider's base URL setting and the network"
    if error.retryable:
        return "the provider is busy: run the check again later"
    return "check the provider's base URL setting"


def render(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table, a blank line, then what to do about any problem."""
    header = ("PROVIDER", "MODEL ID", "ALIASES", "STATUS")
    cells = [header, *((r.provider, r.model_id, ", ".join(r.aliases), r.detail) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(3)) + "  " + c[3] for c in cells]
    problems = [r for r in rows if r.problem]
    failed = [r for r in rows if r.verdict == "failed"]
    lines.append("")
    if problems:
        names = ", ".join(f"{r.provider} {r.model_id} ({', '.join(r.aliases)})" for r in problems)
        lines.append(
            f"{len(problems)} configured model id(s) not served: {names}. Replace each model_id in the "
            "file named by PHASES_CONFIG_FILE (README: Retiring a model)."
        )
    elif failed:
        lines.append(f"Could not check {len(failed)} model id(s): a listing failed (see STATUS).")
    elif not any(r.verdict in ("listed", "retiring") for r in rows):
        lines.append("Nothing was checked: no configured provider has a model listing (see STATUS).")
    else:
        lines.append("Every model id that could be checked is served.")
    return "\n".join(lines)


def exit_code(rows: Sequence[Row]) -> int:
    """1 when an id is not served (or already deprecated), 2 when a listing failed, else 0."""
    if any(r.problem for r in rows):
        return 1
    return 2 if any(r.verdict == "failed" for r in rows) else 0
