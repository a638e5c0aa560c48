"""MiniMax's quirks on the OpenAI chat wire: its own error codes, which arrive even with HTTP 200."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.providers.base import error_body
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    ContentRejected,
    ContextOverflow,
    ModelUnavailable,
    ProviderStatusError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
    error_class_for_status,
)
from app.providers.openai_chat import ChatProfile, UpstreamNo
from app.providers.wording import MINIMAX_CONTEXT_OVERFLOW, MINIMAX_UNKNOWN_MODEL, says

# MiniMax's own status codes, which arrive in ``base_resp`` (even with HTTP 200) or at the end of
# an error message as "(2013)". They, not the HTTP status, say what went wrong: insufficient
# balance has been seen as HTTP 500.
_CODE_CLASSES: dict[int, type[ProviderStatusError]] = {
    1000: UpstreamServerError,  # unknown error
    1001: UpstreamServerError,  # request timeout
    1024: UpstreamServerError,  # internal error
    1033: UpstreamServerError,  # system / downstream error
    1002: RateLimited,  # requests per minute
    1039: RateLimited,  # tokens per minute
    1041: RateLimited,  # connection limit
    1004: AuthenticationError,  # not authorized
    2049: AuthenticationError,  # invalid key (often: a key of the other region's host)
    1008: QuotaExceeded,  # insufficient balance
    2056: QuotaExceeded,  # usage limit of the plan; waiting seconds will not help
    1026: ContentRejected,  # input flagged as sensitive
    1027: ContentRejected,  # output flagged as sensitive
    1042: BadRequest,  # illegal characters
    2013: BadRequest,  # invalid parameters
}
_TRAILING_CODE = re.compile(r"\((\d{4})\)\W*$")


def classify(status: int, body: Any) -> UpstreamNo:
    """MiniMax's own code (``base_resp``, or "(2013)" ending the message) before the HTTP status."""
    upstream = error_body(body)
    code = _base_resp_code(body) or _trailing_code(upstream.message)
    if code in _CODE_CLASSES:
        cls = _CODE_CLASSES[code]
    elif status >= 400:
        cls = error_class_for_status(status)
    else:
        cls = BadRequest  # an unknown code with HTTP 200: not worth retrying blind
    detail = upstream.message or _base_resp_message(body)
    if code == 2013:  # "invalid params" covers both; only the text tells them apart
        if says(MINIMAX_CONTEXT_OVERFLOW, detail):
            cls = ContextOverflow
        elif says(MINIMAX_UNKNOWN_MODEL, detail):
            cls = ModelUnavailable
    return UpstreamNo(cls, detail, str(code) if code else None)


def _base_resp(body: Any) -> Mapping[str, Any]:
    base = body.get("base_resp") if isinstance(body, Mapping) else None
    return base if isinstance(base, Mapping) else {}


def _base_resp_code(body: Any) -> int:
    """``base_resp.status_code``; 0 (success) when absent."""
    code = _base_resp(body).get("status_code")
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _base_resp_message(body: Any) -> str | None:
    message = _base_resp(body).get("status_msg")
    return message if isinstance(message, str) and message else None


def _trailing_code(message: str | None) -> int:
    """The MiniMax code at the end of an error message, e.g. ``invalid params (2013)``."""
    match = _TRAILING_CODE.search(message or "")
    return int(match.group(1)) if match else 0


def says_no_in_body(body: Any) -> bool:
    """A non-zero ``base_resp.status_code``: MiniMax may say no with HTTP 200."""
    return _base_resp_code(body) != 0


MINIMAX = ChatProfile(
    classify=classify,
    # Always this name: MiniMax documents max_completion_tokens for every model.
    budget_field="max_completion_tokens",
    temperature_range=(0.01, 1.0),  # the range is (0, 1]
    # No response_format or seed: M2.x ignores the first and does not document the second.
    response_format=False,
    seed=False,
    # The thinking comes back in reasoning_details, so it stays out of the answer.
    extra_body={"reasoning_split": True},
    error_in_body=says_no_in_body,
    request_id_header="trace-id",  # support asks for the trace id
)
"""MiniMax through its OpenAI-compatible ``/chat/completions`` path."""
