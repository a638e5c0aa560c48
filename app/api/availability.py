"""Which configured models their providers no longer serve, for ``GET /readyz``.

A provider answering "no such model" (a retired or unknown id) trips the model's circuit at once
(app/resilience/breaker.py); readiness names those models, so an operator learns of a retirement
from one probe rather than from a 400 on every request.
"""

from __future__ import annotations

from app.api.service_schemas import UnavailableModel
from app.roster import Roster


def unavailable_models(roster: Roster) -> list[UnavailableModel]:
    """One entry per alias whose model its provider said it does not serve."""
    gone = roster.resilience.unavailable()
    return [
        UnavailableModel(
            model=member.ref.alias,
            model_id=member.ref.model_id,
            provider=member.ref.provider,
            error=gone[key],
        )
        for member in roster.members()
        if (key := (member.ref.provider, member.ref.model_id)) in gone
    ]


def any_model_served(roster: Roster) -> bool:
    """Whether some configured model on a configured provider is not known to be retired."""
    gone = roster.resilience.unavailable()
    return any(
        member.usable and (member.ref.provider, member.ref.model_id) not in gone
        for member in roster.members()
    )


def degraded_reason(store_problem: str | None, gone: list[UnavailableModel]) -> str | None:
    """Why a ready service is degraded, or ``None`` when it is not."""
    reasons = []
    if store_problem is not None:
        reasons.append(f"answering without the result store (no idempotency or cache): {store_problem}")
    if gone:
        names = ", ".join(f"{m.model} ({m.provider}/{m.model_id})" for m in gone)
        reasons.append(
            f"skipping models their provider no longer serves: {names}; replace their model_id "
            "in PHASES_CONFIG_FILE (python -m app.models check lists what each provider serves)"
        )
    return "; ".join(reasons) or None
