"""Request-scoped access to the services the lifespan built."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from app.api.runs import RunEngine, Runs
from app.errors import NoUsableProvider
from app.local_health import LocalHealth, probe
from app.metrics import Metrics
from app.phases.catalog import PhaseCatalog
from app.pipeline import Orchestrator
from app.providers.registry import ProviderRegistry
from app.roster import Roster, RosterName
from app.settings import Settings
from app.store.replay import Replayer
from app.transport import Transport


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a route may use, built once per app."""

    settings: Settings
    catalog: PhaseCatalog
    registry: ProviderRegistry
    roster: Roster
    orchestrator: Orchestrator
    roster_name: RosterName = "cloud"
    """``local`` when no cloud provider is configured and every phase runs on the local model."""
    client: Transport | None = None
    replayer: Replayer = field(default_factory=lambda: Replayer(None))
    metrics: Metrics = field(default_factory=Metrics)
    runs: RunEngine = field(default_factory=lambda: Runs(None, max_live=64, ttl_s=86400.0))
    _config_hashes: dict[str, str] = field(default_factory=dict)

    def config_hash(self, phase: str) -> str:
        """What the answer depends on besides the request: the phase's effective config, prompt,
        schema and roster, and which providers can be called. Part of every cache key."""
        if phase not in self._config_hashes:
            spec = self.catalog.get(phase)
            usable = sorted(m.ref.alias for m in self.roster.members() if m.usable)
            material = json.dumps(
                [
                    spec.config.model_dump(mode="json"),
                    spec.system_prompt,
                    spec.output.contract,
                    self.roster_name,
                    usable,
                    self.settings.orchestration_enabled,
                ],
                sort_keys=True,
            )
            self._config_hashes[phase] = hashlib.sha256(material.encode()).hexdigest()
        return self._config_hashes[phase]

    async def local_health(self) -> LocalHealth | None:
        """The local model server's state when the local roster is in use, else ``None``."""
        if self.roster_name != "local" or self.client is None:
            return None
        return await probe(self.client, self.settings.local_model.url)

    async def require_local_model(self) -> None:
        """503 at once, naming the URL tried, when the local roster's server is not ready."""
        health = await self.local_health()
        if health is None or health.ready:
            return
        raise NoUsableProvider(
            f"the local model server at {health.url} is {health.state}: {health.detail}",
            hint="start it with `make run` (or `python -m local_model`), wait for it to load, "
            "or configure a cloud provider (e.g. ANTHROPIC_API_KEY, WORKERS_AI_API_TOKEN)",
        )


# async def on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which cost
# two thread hand-offs per request for two attribute reads (BENCHMARKS.md's profile).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


ServicesDep = Annotated[Services, Depends(get_services)]
RequestIdDep = Annotated[str, Depends(request_id)]
