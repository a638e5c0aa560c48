"""A run as data: what a worker in any process needs to answer it as the route would have.

The order carries the phase, the body as sent, the caller's scope (never their key) and the
headers the answer reads (Idempotency-Key, Cache-Control). A worker rebuilds a request from it
and runs the same ``phase_answer`` the synchronous route runs, so the stored status and bytes are
the ones the synchronous call would have sent.
"""

from __future__ import annotations

import structlog
from fastapi import Request

from app.api.deps import Services
from app.api.errors import service_error_response
from app.api.phase_answer import phase_answer
from app.api.runs import RunOrder
from app.api.schemas import OrchestrateRequest
from app.errors import OrchestratorError
from app.store.replay import Finished

ANSWER_HEADERS = ("idempotency-key", "cache-control")
"""The request headers the answer depends on; the order keeps only these."""


def order_of(request: Request, run_id: str, phase: str, body: OrchestrateRequest, owner: str) -> RunOrder:
    """The order for a run of this request, under ``run_id``."""
    kept = {name: value for name in ANSWER_HEADERS if (value := request.headers.get(name)) is not None}
    request_id = str(getattr(request.state, "request_id", run_id))
    return RunOrder(run_id, phase, body.model_dump_json(), owner, request_id, kept)


def rebuilt(order: RunOrder) -> Request:
    """A request standing for the order's: its headers, its owner and request id (server-side state)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/phases/{order.phase}/orchestrate",
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in order.headers.items()],
        "state": {"request_id": order.request_id, "caller_scope": order.owner},
    }
    return Request(scope)


async def answer_order(services: Services, order: RunOrder) -> Finished:
    """The order's answer: what ``POST /phases/{phase}/orchestrate`` would have sent."""
    request = rebuilt(order)
    body = OrchestrateRequest.model_validate_json(order.body)
    with structlog.contextvars.bound_contextvars(request_id=order.request_id, run=order.run_id[:8]):
        try:
            finished, _ = await phase_answer(
                request, services, order.request_id, services.catalog.get(order.phase), body
            )()
        except OrchestratorError as exc:
            failed = service_error_response(request, exc)
            return Finished(failed.status_code, bytes(failed.body))
    return finished
