"""Exception handlers: every error leaves the service in one JSON shape, never a bare 500."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.gate import BodyTooLarge
from app.api.present import records
from app.api.schemas import ErrorBody, ErrorResponse, ModelRecord
from app.errors import OrchestrationError, OrchestratorError, TooSlowNow

log = structlog.get_logger("errors")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    hint: str | None = None,
    details: dict[str, Any] | None = None,
    models: list[ModelRecord] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body, carrying the request id."""
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            hint=hint,
            details=details or {},
            models=models or [],
            request_id=getattr(request.state, "request_id", None),
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrchestratorError)
    return service_error_response(request, exc)


def service_error_response(request: Request, exc: OrchestratorError) -> JSONResponse:
    """The response for one of our own errors (also stored for coalesced and replayed callers)."""
    models = records(exc.outcomes) if isinstance(exc, OrchestrationError) else []
    log.warning("request_failed", code=exc.code, status=exc.status_code, error=exc.message)
    response = error_response(
        request,
        exc.status_code,
        exc.code,
        exc.message,
        hint=exc.hint,
        details=exc.details,
        models=models,
    )
    if isinstance(exc, TooSlowNow):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(e) for e in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return error_response(
        request,
        422,
        "invalid_request",
        message,
        hint="fix the named field(s); the request schema is in /docs",
        details={"problems": problems},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    hint = "see /docs for the endpoints" if exc.status_code in (404, 405) else None
    return error_response(
        request,
        exc.status_code,
        code,
        str(exc.detail),
        hint=hint,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not an input problem: keep the shape and the request id so it can be found in logs.
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return error_response(
        request,
        500,
        "internal_error",
        "the service hit an unexpected error",
        hint="retry; if it persists, report the request_id",
        details={"error_type": type(exc).__name__},  # the type only: messages may quote inputs
    )


def _problem(error: Any) -> dict[str, str]:
    loc = [str(p) for p in error.get("loc", ())]
    field = ".".join(loc) or "body"
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        message = "the body is not valid JSON"
    elif error.get("type") == "extra_forbidden":
        message = "unknown field; remove it or check its spelling"
    return {"field": field, "message": message}


async def _body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return error_response(
        request,
        413,
        "body_too_large",
        str(exc),
        hint="send less context (only the phases this one reads), or raise MAX_BODY_BYTES",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(OrchestratorError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
