"""What POST /phases/{name}/orchestrate reads and sends besides its JSON body, for the OpenAPI document.

Declarations only: the headers are read by the request-id middleware (X-Request-ID),
app.api.remember (Idempotency-Key, Cache-Control), app.api.run_routes (Prefer) and
app.api.stream (Accept), which own
their behaviour; the words here follow README's "Idempotency and caching" and "Watch a run".
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from app.api.middleware import SANE_REQUEST_ID
from app.api.remember import MAX_KEY_LENGTH

STREAM_TYPE = "text/event-stream"

# No ``example`` values: Swagger UI's "Try it out" would fill them in and send them, and a stray
# Idempotency-Key or Cache-Control changes what a request does.
REQUEST_HEADERS: list[dict[str, Any]] = [
    {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": (
            "`respond-async`: answer 202 at once with `Location: /runs/{id}`; the run goes on in "
            "the service whoever hangs up. Poll GET /runs/{id}, stream GET /runs/{id}/events, "
            "cancel with DELETE /runs/{id}. Without it the call waits for the answer."
        ),
        "schema": {"type": "string", "enum": ["respond-async"]},
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Makes a retry safe. The first request with a key runs the phase and its 200 is kept "
            "for IDEMPOTENCY_TTL_S (24 h); a repeat returns the same body with "
            "`Idempotent-Replayed: true` and calls no model. The key with a different body is a 409. "
            "Concurrent requests with one key share one run. Failed runs are not kept: retrying a "
            "502 runs again."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    },
    {
        "name": "Cache-Control",
        "in": "header",
        "required": False,
        "description": (
            "The response cache is opt-in (only without an Idempotency-Key): without this header "
            "every request runs. `max-age=N` asks for an earlier answer: an identical request "
            "(same phase, body and effective config) answered less than N seconds ago comes back "
            'with `"cached": true`, `X-Cache: hit` and `Age`; otherwise it runs (`X-Cache: miss`). '
            "`no-cache` always runs. With CACHE_DEFAULT=on, requests without the header are "
            "answered from the cache too. Degraded answers and failures are never cached."
        ),
        "schema": {"type": "string"},
    },
    {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": (
            "Your id for this request, echoed in the `X-Request-ID` response header, the body's "
            "`request_id` and the logs. Up to 128 of `A-Z a-z 0-9 . _ : -`; anything else, or none, "
            "gets a generated id."
        ),
        "schema": {"type": "string", "pattern": SANE_REQUEST_ID.pattern},
    },
]

REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id: the caller's X-Request-ID when acceptable, else a generated one.",
    "schema": {"type": "string"},
}

ANSWER_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": REQUEST_ID_HEADER,
    "Idempotent-Replayed": {
        "description": (
            "On a JSON answer to a request with an Idempotency-Key: `true` when this body is the "
            "replay of the key's first run (no model was called), `false` when this request ran the phase."
        ),
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "X-Cache": {
        "description": (
            "On a JSON answer to a request that asked for a cached answer (`Cache-Control: "
            "max-age=N`, or none under CACHE_DEFAULT=on) without an Idempotency-Key: `hit` when "
            "the answer came from the cache, `miss` when the phase ran."
        ),
        "schema": {"type": "string", "enum": ["hit", "miss"]},
    },
    "Age": {
        "description": "With `X-Cache: hit`: how many seconds ago the cached answer was made.",
        "schema": {"type": "integer", "minimum": 0},
    },
}

RUN_HEADERS: dict[str, Any] = {
    "Location": {
        "description": "`/runs/{id}`: poll it, or DELETE it to cancel.",
        "schema": {"type": "string"},
    },
    "Preference-Applied": {
        "description": "`respond-async`: the Prefer header was honoured.",
        "schema": {"type": "string", "enum": ["respond-async"]},
    },
}

STREAM_DESCRIPTION = """\
With `Accept: text/event-stream`, the same run as server-sent events, in this order:
`phase_started` (phase, strategy, models), `model_started` (model, provider, role) and
`model_finished` (status, latency_ms, tokens_in, tokens_out, attempts, error) for each model call,
`synthesis_started` (answers, judges), then one `result` (exactly the JSON body of this 200) or
`error` (the error shape). Each event's `data` is one JSON object. Closing the stream cancels the run.\
"""

STREAM_EXAMPLE = """\
event: phase_started
data: {"phase": "kill-test", "strategy": "synthesize", "models": ["reasoner", "minimax"]}

event: model_started
data: {"model": "reasoner", "provider": "workers_ai", "role": "parallel"}

event: model_finished
data: {"model": "reasoner", "provider": "workers_ai", "role": "parallel", "status": "ok", "latency_ms": 812, \
"tokens_in": 1298, "tokens_out": 652, "attempts": 1, "error": null}

event: synthesis_started
data: {"answers": 2, "judges": ["claude-sonnet"]}

event: result
data: {"request_id": "plan-17-ks", "phase": "kill-test", "mode": "orchestrated", "output": {"verdict": "GO"}}
"""


def document_orchestrate(operation: dict[str, Any]) -> None:
    """Add the request headers, the response headers and the event stream to the operation."""
    # Copies: every app's document is its own, whatever a consumer does to it.
    operation.setdefault("parameters", []).extend(deepcopy(REQUEST_HEADERS))
    for status, answer in operation.get("responses", {}).items():
        headers = {"200": ANSWER_HEADERS, "202": RUN_HEADERS}.get(status, {"X-Request-ID": REQUEST_ID_HEADER})
        answer.setdefault("headers", {}).update(deepcopy(headers))
    ok = operation["responses"]["200"]
    ok["description"] = (
        "The phase's validated output and what every model did (application/json). " + STREAM_DESCRIPTION
    )
    # After application/json: Swagger UI's "Try it out" asks for the first type listed.
    ok["content"][STREAM_TYPE] = {
        "schema": {"type": "string", "description": "A stream of server-sent events."},
        "example": STREAM_EXAMPLE,
    }
