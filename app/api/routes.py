"""HTTP routes: parse, call the pipeline, return a response model. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.availability import any_model_served, degraded_reason, unavailable_models
from app.api.body import parse_body
from app.api.deps import RequestIdDep, Services, ServicesDep
from app.api.disconnect import unless_disconnected
from app.api.examples import request_examples
from app.api.phase_answer import admit, phase_answer, within_limits
from app.api.remember import caller_scope, fingerprint, idempotency_key
from app.api.run_routes import async_responses, prefers_async, start_run
from app.api.run_work import order_of
from app.api.runs import new_run_id
from app.api.schemas import ErrorResponse, OrchestrateRequest, OrchestrateResponse
from app.api.service_schemas import (
    CircuitOut,
    LocalModelStatus,
    ModelHealthOut,
    ModelInfo,
    PhaseDetail,
    PhaseList,
    PhaseSummary,
    ProviderList,
    ProviderOut,
    ProviderStatus,
    Readiness,
    StoreStatus,
)
from app.api.stream import stream

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown phase; the body lists the valid ones."},
    409: {"model": ErrorResponse, "description": "An Idempotency-Key reused with another body."},
    413: {"model": ErrorResponse, "description": "Idea, context or body over its MAX_* setting."},
    422: {"model": ErrorResponse, "description": "Invalid body; names the field and the fix."},
    502: {"model": ErrorResponse, "description": "Every model failed; each model's error listed."},
    503: {
        "model": ErrorResponse,
        "description": "No provider configured (names the variables), or too_slow_now: the local "
        "model's current pace cannot meet the deadline (Retry-After, the estimate and the fix).",
    },
    504: {"model": ErrorResponse, "description": "The phase deadline passed."},
}


@router.get("/healthz", tags=["operations"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    summary="Config loaded; which providers are usable",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
)
async def readyz(services: ServicesDep, response: Response) -> Readiness:
    providers = {
        name: ProviderStatus(available=p.available, missing_settings=list(p.missing_settings))
        for name in services.registry.names()
        if (p := services.registry.get(name))
    }
    health = await services.local_health()
    local = LocalModelStatus(url=health.url, state=health.state, detail=health.detail) if health else None
    if health is not None:
        usable = health.ready
        reason = None if usable else f"the local model server at {health.url} is {health.state}"
    else:
        usable = any(s.available for n, s in providers.items() if n != "local")
        reason = (
            None
            if usable
            else "no provider has credentials; set at least one provider's "
            "variables (see providers.*.missing_settings)"
        )
    replayer = services.replayer
    store_problem = await replayer.check()
    store = StoreStatus(
        backend=replayer.store.backend if replayer.store else "none",
        ok=store_problem is None,
        detail=store_problem,
    )
    gone = unavailable_models(services.roster)
    if usable and gone and not any_model_served(services.roster):
        usable, reason = False, "every configured model is one its provider no longer serves"
    if not usable:
        response.status_code = 503
    else:
        reason = degraded_reason(store_problem, gone)
    return Readiness(
        status="not_ready" if not usable else ("degraded" if reason else "ready"),
        phases_loaded=len(services.catalog.names()),
        orchestration_enabled=services.settings.orchestration_enabled,
        roster=services.roster_name,
        providers=providers,
        local_model=local,
        store=store,
        unavailable_models=gone,
        reason=reason,
    )


@router.get(
    "/providers",
    tags=["operations"],
    summary="Each provider's models, availability, circuit state and recent errors",
    response_model=ProviderList,
)
async def list_providers(services: ServicesDep) -> ProviderList:
    resilience, members = services.roster.resilience, services.roster.members()
    providers = []
    for name in services.registry.names():
        provider = services.registry.get(name)
        aliases: dict[str, list[str]] = {}
        for member in members:
            if member.ref.provider == name:
                aliases.setdefault(member.ref.model_id, []).append(member.ref.alias)
        guards = resilience.guards_of(name)
        models = [
            ModelHealthOut(
                model_id=model_id,
                aliases=sorted(names),
                circuit=CircuitOut(
                    state=(g := guards[model_id]).breaker.state,
                    consecutive_failures=g.breaker.consecutive_failures,
                    retry_in_s=round(g.breaker.retry_in_s(), 1),
                    unavailable=g.breaker.unavailable,
                ),
                calls=g.health.calls,
                failures=g.health.failures,
                recent_errors=g.health.recent_errors(),
                last_error=g.health.last_error,
            )
            for model_id, names in sorted(aliases.items())
        ]
        providers.append(
            ProviderOut(
                name=name,
                available=provider.available,
                missing_settings=list(provider.missing_settings),
                concurrency_limit=resilience.limit_of(name),
                in_flight=resilience.in_use(name),
                models=models,
            )
        )
    return ProviderList(roster=services.roster_name, providers=providers)


@router.get("/phases", tags=["phases"], summary="Every phase, in workflow order", response_model=PhaseList)
async def list_phases(services: ServicesDep) -> PhaseList:
    return PhaseList(
        roster=services.roster_name,
        phases=[_summary(services, phase.name) for phase in services.catalog],
    )


@router.get(
    "/phases/{name}",
    tags=["phases"],
    response_model=PhaseDetail,
    summary="A phase's config, prompt and output JSON Schema",
    responses={404: _ERRORS[404]},
)
async def get_phase(name: str, services: ServicesDep) -> PhaseDetail:
    phase = services.catalog.get(name)
    config, roster = phase.config, services.roster
    synthesizer = roster.first_usable(config.synthesis.models)
    return PhaseDetail(
        name=phase.name,
        order=config.order,
        summary=config.summary,
        orchestration_enabled=_orchestrated(services, name),
        roster=services.roster_name,
        synthesizer=synthesizer.ref.alias if synthesizer else None,
        config=config.model_dump(mode="json"),
        models={
            alias: ModelInfo(
                provider=(m := roster.member(alias)).ref.provider,
                model_id=m.ref.model_id,
                usable=m.usable,
                price_per_million=m.spec.price.model_dump(),
            )
            for alias in sorted(config.aliases())
        },
        system_prompt=phase.system_prompt,
        output_schema=phase.output.contract,
    )


@router.post(
    "/phases/{name}/orchestrate",
    tags=["phases"],
    summary="Run a phase across several models and return validated JSON",
    response_model=OrchestrateResponse,
    responses={**_ERRORS, **async_responses()},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {},  # replaced by app.api.openapi with a component reference
                    "examples": request_examples(),
                }
            },
        }
    },
)
async def orchestrate(
    name: str, request: Request, services: ServicesDep, request_id: RequestIdDep
) -> Response:
    phase = services.catalog.get(name)
    body = await parse_body(request, OrchestrateRequest)
    within_limits(body, services.settings)
    streaming = "text/event-stream" in request.headers.get("accept", "")
    answer = phase_answer(request, services, request_id, phase, body)

    if prefers_async(request):
        key = idempotency_key(request)  # a bad key is a 422 before anything runs
        # The same key with another body is not the same run: it becomes a run answering 409.
        identity = None if key is None else f"{key}:{fingerprint(name, body)}"
        if key is None:  # nothing stored to replay: refuse now rather than a 202 that fails
            admit(services, phase, body)
        return await start_run(request, services, answer, body=body, identity=identity)
    if streaming:
        # A stream's disconnects are the SSE response's to watch (it cancels ``answer``).
        return stream(request, answer)
    keyed = idempotency_key(request) is not None  # a bad key is a 422 before anything runs
    finished, headers = await unless_disconnected(request, answer(), keyed=keyed)
    # A run underneath: its answer is kept as an ended run, which GET /runs/{Run-Id} answers.
    order = order_of(request, new_run_id(), name, body, caller_scope(request, services.settings))
    await services.runs.record(order, finished)
    headers = {**headers, "Run-Id": order.run_id}
    return Response(finished.body, finished.status, headers=headers, media_type="application/json")


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus_metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _orchestrated(services: Services, name: str) -> bool:
    config = services.catalog.get(name).config
    return services.settings.orchestration_enabled and config.orchestration_enabled


def _summary(services: Services, name: str) -> PhaseSummary:
    config = services.catalog.get(name).config
    aliases = [c.model for c in config.parallel]
    return PhaseSummary(
        name=name,
        order=config.order,
        summary=config.summary,
        orchestration_enabled=_orchestrated(services, name),
        strategy=config.strategy,
        parallel_models=aliases,
        usable_parallel_models=[a for a in aliases if services.roster.member(a).usable],
    )
