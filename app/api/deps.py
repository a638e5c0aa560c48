"""Request-scoped access to the services the lifespan built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.phases.catalog import PhaseCatalog
from app.pipeline import Orchestrator
from app.providers.registry import ProviderRegistry
from app.roster import Roster
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a route may use, built once per app."""

    settings: Settings
    catalog: PhaseCatalog
    registry: ProviderRegistry
    roster: Roster
    orchestrator: Orchestrator


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


ServicesDep = Annotated[Services, Depends(get_services)]
RequestIdDep = Annotated[str, Depends(request_id)]
