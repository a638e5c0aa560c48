"""The run API: ``Prefer: respond-async`` on orchestrate answers 202; /runs/{id} polls, streams, cancels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Header, Request, Response
from sse_starlette import EventSourceResponse

from app.api.deps import Services, ServicesDep
from app.api.errors import service_error_response
from app.api.remember import caller_scope
from app.api.run_work import order_of
from app.api.runs import RunView, new_run_id
from app.api.schemas import ErrorResponse, OrchestrateRequest
from app.api.service_schemas import RunOut
from app.errors import OrchestratorError, RunsUnavailable, TooManyRuns
from app.store.replay import Finished

router = APIRouter(tags=["runs"])
Answer = Callable[[], Awaitable[tuple[Finished, dict[str, str]]]]
PING_S = 10
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such run for this caller (or its result expired)."}
}


def prefers_async(request: Request) -> bool:
    """Whether the caller sent ``Prefer: respond-async`` (RFC 7240)."""
    preferences = request.headers.get("prefer", "").lower().replace(";", ",").split(",")
    return "respond-async" in {p.strip() for p in preferences}


async def start_run(
    request: Request,
    services: Services,
    answer: Answer,
    *,
    body: OrchestrateRequest,
    identity: str | None,
) -> Response:
    """202 with the run's Location at once; the run goes on in the service, whoever hangs up.
    ``identity`` (the Idempotency-Key and the request's fingerprint): a live run with it is reused."""

    async def work() -> Finished:
        try:
            finished, _ = await answer()
        except OrchestratorError as exc:
            failed = service_error_response(request, exc)
            return Finished(failed.status_code, bytes(failed.body))
        return finished

    owner = caller_scope(request, services.settings)
    phase = request.path_params["name"]
    order = order_of(request, new_run_id(), phase, body, owner)
    try:
        run = await services.runs.start(order, work, key=identity)
    except (TooManyRuns, RunsUnavailable) as exc:
        response = service_error_response(request, exc)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    out = _out(run)
    headers = {"Location": out.location, "Preference-Applied": "respond-async"}
    return Response(out.model_dump_json(), 202, headers=headers, media_type="application/json")


@router.get(
    "/runs/{run_id}",
    summary="A run's state; once it ended, the synchronous call's status and body",
    response_model=RunOut,
    responses={
        **_NOT_FOUND,
        "default": {"description": "An ended run: the status and body POST .../orchestrate answers."},
    },
)
async def get_run(run_id: str, request: Request, services: ServicesDep) -> Response:
    run = await services.runs.view(run_id, caller_scope(request, services.settings))
    headers = {"Run-State": run.state}
    if run.result is not None:
        return Response(run.result.body, run.result.status, headers=headers, media_type="application/json")
    return Response(_out(run).model_dump_json(), headers=headers, media_type="application/json")


@router.delete(
    "/runs/{run_id}",
    summary="Cancel a queued or running run and its upstream calls",
    response_model=RunOut,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorResponse, "description": "The run has already ended; GET it for its result."},
    },
)
async def cancel_run(run_id: str, request: Request, services: ServicesDep) -> RunOut:
    return _out(await services.runs.cancel(run_id, caller_scope(request, services.settings)))


@router.get(
    "/runs/{run_id}/events",
    summary="A run's progress as server-sent events, ending with result, error or cancelled",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_NOT_FOUND},
)
async def run_events(
    run_id: str,
    request: Request,
    services: ServicesDep,
    last_event_id: int = Header(default=0, ge=0, description="Resume after this event id."),
) -> EventSourceResponse:
    owner = caller_scope(request, services.settings)
    await services.runs.view(run_id, owner)  # 404 before the stream starts

    async def events() -> AsyncIterator[dict[str, str]]:
        async for event in services.runs.events(run_id, owner, last_event_id):
            yield {"id": str(event.id), "event": event.event, "data": event.data}

    return EventSourceResponse(events(), ping=PING_S)


def _out(run: RunView) -> RunOut:
    location = f"/runs/{run.id}"
    return RunOut(id=run.id, state=run.state, location=location, events=f"{location}/events")


def async_responses() -> dict[int | str, dict[str, Any]]:
    """The orchestrate route's extra responses when it answers asynchronously."""
    return {
        202: {"model": RunOut, "description": "Prefer: respond-async: the run started; poll its Location."},
        503: {"model": ErrorResponse, "description": "No provider configured, or MAX_LIVE_RUNS reached."},
    }
