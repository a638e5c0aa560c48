"""Property-based fuzzing of the HTTP API against its own OpenAPI document (schemathesis).

Every operation in /openapi.json is exercised in schemathesis's three phases: the document's own
examples, its coverage cases (boundary values, missing and malformed fields, undeclared methods
and media types) and Hypothesis-generated requests, valid and invalid. Every response must:

- not be a 5xx. The fake providers answer every phase with a valid fixture, so none of the
  documented orchestration failures (502, 503, 504) has a cause here, with one exception the
  contract itself promises: a 504 for a request whose own ``options.deadline_s`` is too short to
  answer in (see ``no_server_error``);
- carry a documented status code and content type;
- match the documented body schema and response headers.

Each phase also has an operation of its own (``/phases/kill-test/orchestrate``…), whose answers
must match that phase's own output schema. The generic operation's ``name`` path parameter is any
string. Left alone, the generator would almost never hit one of the 15 real phases and the 200 paths
would go unfuzzed, so two hooks steer it, deterministically: each of the document's request examples
runs against the phase it was written for, and about half of the other generated names become a
real phase name. The rest stay arbitrary and must get the documented 404 error.

Bounded for CI: a fixed number of generated cases per operation (about 4,200 requests in all, some
20 s), no Hypothesis deadline, derandomized (the same cases on every run for the same code) and no example
database. A summary of what ran is printed after the module's tests.

Generated bodies stay small, so two explicit requests (``LIMITS``) take the same checks to the
request-size limits.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.examples import request_examples
from app.api.remember import MAX_KEY_LENGTH
from app.main import create_app
from tests.phases.test_catalog import ORDER
from tests.support import fake_providers, make_settings

MAX_EXAMPLES = 50
"""Hypothesis-generated cases per operation, on top of the document's examples and coverage cases."""

DEADLINE_FLOOR_S = 1.0
"""Below this ``options.deadline_s`` a 504 ``deadline_exceeded`` is the documented answer, not a bug:
the fakes answer in milliseconds, but nothing finishes within, say, 5e-324 s (the smallest float
above the schema's exclusiveMinimum of 0)."""

SETTINGS = make_settings()
app = create_app(SETTINGS, providers=fake_providers())
# Loaded through the app itself (ASGI, in-process); schemathesis runs the app's lifespan around the
# requests and ends it after each test. An explicit config, so that a stray schemathesis.toml cannot
# change what runs in CI. Output sanitization is off: there are no secrets here, and it would mask
# body fields such as keyInsight in the printed reproductions.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    app,
    config=schemathesis.Config.from_dict({"output": {"sanitization": {"enabled": False}}}),
)

SEEN: defaultdict[str, Counter[str]] = defaultdict(Counter)
"""Operation -> counts of each phase and status code; printed after the module's tests."""
ALLOWED: Counter[str] = Counter()
"""5xx answers ``no_server_error`` let through, with why; printed too."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


EXAMPLE_PHASES = {_canonical(example["value"]): name for name, example in request_examples().items()}


@schema.hook("before_add_examples")
def _examples_on_their_phase(context: HookContext, examples: list[Case]) -> None:
    """Send each documented request example to the phase it was written for (the generator fills
    the path with an arbitrary name, which would only ever test the 404)."""
    for case in examples:
        phase = EXAMPLE_PHASES.get(_canonical(case.body))
        if phase is not None and "name" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "name": phase}


@schema.hook("map_case")
def _real_phase_for_half(context: HookContext, case: Case) -> Case:
    """Replace about half of the generated ``name`` values by a real phase, chosen from the
    generated value itself (crc32, not hash(): the same choice in every process)."""
    name = case.path_parameters.get("name")
    if isinstance(name, str):
        digest = zlib.crc32(name.encode("utf-8", "surrogatepass"))
        if digest % 2:
            case.path_parameters = {**case.path_parameters, "name": ORDER[(digest >> 1) % len(ORDER)]}
    return case


@schema.hook("map_case")
def _idempotency_key_per_body(context: HookContext, case: Case) -> Case:
    """Tie a generated, valid ``Idempotency-Key`` to its request (phase and body): the generator
    reuses a few short keys across bodies, and each reuse is the documented 409, which would crowd
    out the 200s. A repeated request is still a replay; invalid keys are left for their 422."""
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and key.strip() and len(key) <= MAX_KEY_LENGTH:
        # default=repr: the body may be unset or bytes of another media type.
        request = json.dumps([case.path_parameters.get("name"), case.body], sort_keys=True, default=repr)
        digest = zlib.crc32(request.encode("utf-8", "surrogatepass"))
        case.headers["Idempotency-Key"] = f"{digest:08x}-{key}"[:MAX_KEY_LENGTH]
    return case


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """``not_a_server_error``, except for the one 5xx the contract promises: a 504
    ``deadline_exceeded`` for a request whose own ``deadline_s`` is below DEADLINE_FLOOR_S.
    Any other 5xx fails, and so does a 504 for a longer deadline."""
    deadline = _deadline_s(case)
    if (
        response.status_code == 504
        and deadline < DEADLINE_FLOOR_S
        and _error_code(response) == "deadline_exceeded"
    ):
        ALLOWED[f"{case.operation.label} -> 504 deadline_exceeded for deadline_s={deadline!r}"] += 1
        return None
    return not_a_server_error(ctx, response, case)


def _deadline_s(case: Case) -> float:
    options = case.body.get("options") if isinstance(case.body, dict) else None
    deadline = options.get("deadline_s") if isinstance(options, dict) else None
    if isinstance(deadline, int | float) and not isinstance(deadline, bool):
        return float(deadline)
    return float("inf")


def _error_code(response: Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    total = sum(sum(c[k] for k in c if k.isdigit()) for c in SEEN.values())
    lines = [f"schemathesis {schemathesis.__version__}: {total} cases in {time.monotonic() - started:.1f} s"]
    for label, counts in sorted(SEEN.items()):
        phases = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()) if not k.isdigit())
        statuses = ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()) if k.isdigit())
        lines.append(f"  {label}: {phases}; status {statuses}")
    lines += [f"  allowed: {why} ({n})" for why, n in sorted(ALLOWED.items())]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + "\n".join(lines))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case: Case) -> None:
    response = case.call()
    counts = SEEN[case.operation.label]
    counts[str(response.status_code)] += 1
    counts[case.meta.phase.name.value if case.meta is not None else "unknown phase"] += 1
    case.validate_response(response, checks=CHECKS)


# Generated bodies stay small, so the fuzzing never reaches the size limits. These two requests do,
# and their answers are held to the same checks: (why, bytes of context to send).
LIMITS = {
    "context over MAX_CONTEXT_BYTES": SETTINGS.max_context_bytes + 1,
    "body over MAX_BODY_BYTES": SETTINGS.max_body_bytes + 1,
}


@pytest.mark.parametrize("why", LIMITS)
def test_size_limit_answers_conform_to_the_openapi_document(why: str) -> None:
    body = {"idea": "x", "context": {"blob": "a" * LIMITS[why]}}
    operation = schema["/phases/{name}/orchestrate"]["POST"]
    case = operation.Case(path_parameters={"name": ORDER[0]}, body=body, media_type="application/json")
    response = case.call()
    problems = ""
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        problems = "; ".join(f"{f.title}: {' '.join(f.message.split())}" for f in group.exceptions)
    # Stated briefly: schemathesis's own report would print the whole megabyte-sized body.
    assert not problems, (
        f"POST /phases/{ORDER[0]}/orchestrate with a {why} ({len(response.request.body or b'')} bytes) "
        f"got {response.status_code} {response.text[:300]}\n{problems}"
    )
