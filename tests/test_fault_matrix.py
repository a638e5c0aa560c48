"""Fault injection over real HTTP: the faults the fake upstream injects, at each position of the
kill-test phase, against the real app served by uvicorn (one fake upstream and one app per cell).

Positions (kill-test's defaults, checked by ``test_positions_follow_the_kill_test_defaults``):

- one parallel model: qwen3 on Workers AI (MiniMax's in-body ``base_resp`` errors: the minimax member);
- all parallel models: reasoner, llama-scout, qwen3, minimax and openai-compat at once;
- the synthesizer: claude-sonnet (claude-sonnet-5-5 on Anthropic); minimax is its first backup;
- the fallback model: llama-70b, the first ``single_model``. The pipeline reaches it only when
  synthesis could not run (fewer than ``min_successes`` parallel answers) and no parallel answer is
  schema-valid, so every parallel member is scripted a 400 (not retried, one call each). When
  llama-70b fails too, the chain goes on to minimax, the second ``single_model``.

Each fault is scripted several times, so that it hits every attempt, retries and repairs included.
Retried (``ProviderError.retryable``, see ``app/resilience/retry.py``): timeouts (a hang), connection
errors (a reset, a truncated body), 429 (obeying ``Retry-After``), 500, 529 and MiniMax's rate-limit
codes (1002), each up to ``settings.retry_max_attempts`` calls. Not retried, one call: a 2xx body that
is not JSON (``ProviderResponseError``), MiniMax's quota code (1008), a context overflow, an unknown
model and other 4xx. Re-asked once with twice the budget (``app.calls.call``): an answer cut off
at its token limit, each wire's own way (``Reply.truncated``, ``Reply.reasoning_only``); cut off again
it is ``truncated``, two calls. A reasoning block that never closed is ``unfinished_reasoning``, one
call. An answer that arrives whole is a successful call whatever its content: one call, plus one
repair call when the synthesizer or a single model wrote it and it did not validate
(``app.calls.validated.ask_validated``).

Each cell asserts the HTTP status (never a bare 500: any non-200 is the ``{"error": {...}}`` shape),
the mode and who produced the output, ``degraded``, the faulted model's records (status, error kind,
attempts), its exact upstream call count and how each call ended, and that nothing is left running
once the response is out: the fake is idle, no later call arrives and no provider slot is held.

The README's "Behaviour under faults" table is rendered from the same expectations
(``test_readme_table_matches_the_matrix``). Run: ``.venv/bin/pytest tests/test_fault_matrix.py``.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.fakes.upstream import FakeUpstream, Reply, running
from tests.support import catalog_for, fixture, make_settings, serve, upstream_settings

PHASE = "kill-test"
OPENAI_COMPAT_MODEL = "local-gemma"
MODEL_IDS = {
    "reasoner": "@cf/zai-org/glm-4.7-flash",
    "llama-scout": "@cf/meta/llama-4-scout-17b-16e-instruct",
    "qwen3": "@cf/qwen/qwen3-30b-a3b-fp8",
    "minimax": "MiniMax-M2.7",
    "openai-compat": OPENAI_COMPAT_MODEL,
    "claude-sonnet": "claude-sonnet-5-5",
    "llama-70b": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
}
PARALLEL = ("reasoner", "llama-scout", "qwen3", "minimax", "openai-compat")
SYNTHESIZER, SYNTH_BACKUP = "claude-sonnet", "minimax"
FALLBACK, FALLBACK_NEXT = "llama-70b", "minimax"

# Short clocks so hangs resolve quickly: a hang costs attempts x MODEL_TIMEOUT_S.
MODEL_TIMEOUT_S = 2.5
SYNTHESIS_TIMEOUT_S = 2.5
DEADLINE_S = 12.0
BACKSTOP_SLACK_S = 0.5  # app.pipeline.DEADLINE_SLACK_S
CLIENT_NOISE_S = 2.0
"""What a busy 2-core machine may add to a request timed by the client over HTTP: the deadline
bounds below allow it, and each stays far below what a request without a working deadline takes."""
SCRIPTED = 5
"""Copies of a fault scripted per model: more than the attempts plus a repair can consume."""

VALID = json.dumps(fixture(PHASE))
VERDICT = fixture(PHASE)["verdict"]
DRAFT = "KILL" if VERDICT != "KILL" else "GO"
THINK_ANSWER = (
    f'<think>\nA first draft: {{"verdict": "{DRAFT}"}}. No: the evidence says {VERDICT}.\n</think>\n\n{VALID}'
)
CUT_ANSWER = VALID[: len(VALID) // 2]
"""The answer's JSON cut at half its length, as a token limit leaves it."""
DRAFT_REASONING = (
    f'Okay, the planner wants a kill test. A first draft: {{"verdict": "{DRAFT}"}}. But the evidence on '
    "pricing points the other way, so let me weigh the fatal flaws one by one before I"
)
"""A model cut off mid-thought: its reasoning holds a complete draft that must never count."""
UNCLOSED_THINK = "<think>\n" + DRAFT_REASONING
NON_JSON_ANSWER = "Honestly the idea has promise, but I would rather talk it through than fill in a form."
SCHEMA_INVALID_ANSWER = '{"verdict": "MAYBE"}'


class Kind(enum.Enum):
    """What a fault does to the call that meets it."""

    SLOW = "slow"  # answers late but within the timeout
    RETRIED = "retried"  # fails every attempt; retried up to retry_max_attempts
    NOT_RETRIED = "not retried"  # fails once, for good
    REASKED = "re-asked"  # cut off at max_tokens: asked once more with twice the budget, cut off again
    VALID = "valid answer"  # arrives and validates
    INVALID = "invalid answer"  # arrives and does not validate (a repair round where there is one)


@dataclass(frozen=True)
class Fault:
    name: str
    label: str
    """The fault as the README table names it."""
    reply: Reply
    kind: Kind
    status: str = "ok"
    """The faulted call's record status."""
    error_kind: str | None = None
    error_kind_on: dict[str, str] = field(default_factory=dict)
    """Per-alias error kinds where a wire classifies the fault differently."""
    ended: str = "answered"
    """``Call.ended`` of every faulted upstream call."""
    minimax_only: bool = False

    def error_kind_of(self, alias: str) -> str | None:
        return self.error_kind_on.get(alias, self.error_kind)


FAULTS = (
    Fault("latency", "latency 0.3 s (within the timeout)", Reply(delay_s=0.3), Kind.SLOW),
    Fault("http_500", "HTTP 500", Reply(status=500), Kind.RETRIED, "error", "server_error", ended="error"),
    Fault(
        "http_429",
        "HTTP 429, `Retry-After: 1`",
        Reply(status=429, headers={"Retry-After": "1"}),
        Kind.RETRIED,
        "error",
        "rate_limited",
        ended="error",
    ),
    Fault(
        "http_529",
        "HTTP 529",
        Reply(status=529),
        Kind.RETRIED,
        "error",
        "overloaded",
        # MiniMax's body code (1000, "unknown error") decides over the status: a server error.
        error_kind_on={"minimax": "server_error"},
        ended="error",
    ),
    Fault(
        "hang",
        "hang (never answers)",
        Reply(hang=True),
        Kind.RETRIED,
        "timeout",
        "timeout",
        ended="disconnected",
    ),
    Fault("reset", "connection reset", Reply(reset=True), Kind.RETRIED, "error", "connection", ended="reset"),
    Fault(
        "truncated_body",
        "truncated body",
        Reply(truncate=True),
        Kind.RETRIED,
        "error",
        "connection",
        ended="truncated",
    ),
    Fault(
        "malformed_json",
        "malformed JSON body (HTTP 200)",
        Reply(raw_body='{"id": "broken", "choices": [}'),
        Kind.NOT_RETRIED,
        "error",
        "malformed",
    ),
    Fault(
        "minimax_base_resp_1002",
        "MiniMax `base_resp` 1002 (rate limit), HTTP 200, on minimax",
        Reply(status=200, error_code=1002),
        Kind.RETRIED,
        "error",
        "rate_limited",
        ended="error",
        minimax_only=True,
    ),
    Fault(
        "minimax_base_resp_1008",
        "MiniMax `base_resp` 1008 (insufficient balance), HTTP 200, on minimax",
        Reply(status=200, error_code=1008),
        Kind.NOT_RETRIED,
        "error",
        "quota_exceeded",
        ended="error",
        minimax_only=True,
    ),
    Fault(
        "cut_off",
        "cut-off answer: the wire's length stop (`finish_reason: length`, `stop_reason: max_tokens`)",
        Reply(text=CUT_ANSWER, truncated=True),
        Kind.REASKED,
        "error",
        "truncated",
    ),
    Fault(
        "reasoning_only_cut_off",
        "reasoning beside a null answer, length stop",
        Reply(text=DRAFT_REASONING, reasoning_only=True, truncated=True),
        Kind.REASKED,
        "error",
        "truncated",
    ),
    Fault(
        "unclosed_think",
        "unfinished reasoning: `<think>` never closed, a draft inside",
        Reply(text=UNCLOSED_THINK),
        Kind.NOT_RETRIED,
        "error",
        "unfinished_reasoning",
    ),
    Fault(
        "no_open_tag_cut_off",
        "unfinished reasoning without its opening tag, cut off mid-thought",
        Reply(text=DRAFT_REASONING, truncated=True),
        Kind.REASKED,
        "error",
        "truncated",
    ),
    Fault(
        "context_overflow",
        "context overflow (the wire's context-length 400)",
        Reply(context_overflow=True),
        Kind.NOT_RETRIED,
        "error",
        "context_overflow",
        ended="error",
    ),
    Fault(
        "model_not_found",
        "model not found (retired id)",
        Reply(model_not_found=True),
        Kind.NOT_RETRIED,
        "error",
        "model_unavailable",
        ended="error",
    ),
    Fault("think_block", "`<think>…</think>` + valid JSON", Reply(text=THINK_ANSWER), Kind.VALID),
    Fault("non_json", "non-JSON answer", Reply(text=NON_JSON_ANSWER), Kind.INVALID),
    Fault("schema_invalid", '`{"verdict": "MAYBE"}`', Reply(text=SCHEMA_INVALID_ANSWER), Kind.INVALID),
)


class Position(enum.Enum):
    """Where the fault is; the value is the README table's column header."""

    ONE_PARALLEL = "one parallel model (qwen3)"
    ALL_PARALLEL = "all parallel models"
    SYNTHESIZER = "synthesizer (claude-sonnet)"
    FALLBACK = "fallback model (llama-70b)"


@dataclass(frozen=True)
class Expected:
    http: int
    mode: str
    source: str
    """Who produced the output: ``synthesis:<alias>``, ``best-parallel`` or ``single:<alias>``."""
    degraded: bool
    faulted: tuple[str, ...]
    """The faulted aliases."""
    role: str
    """The role of the faulted models' first call."""
    calls: int
    """Upstream calls per faulted model."""
    repaired: bool = False
    """A repair call followed the faulted model's invalid answer."""


FAILING = (Kind.RETRIED, Kind.NOT_RETRIED, Kind.REASKED)


def calls_of(fault: Fault, attempts: int) -> int:
    """Upstream calls a faulted model gets: every attempt, one re-ask, or one."""
    return {Kind.RETRIED: attempts, Kind.REASKED: 2}.get(fault.kind, 1)


def faulted_aliases(position: Position, fault: Fault) -> tuple[str, ...]:
    if position is Position.ONE_PARALLEL:
        return ("minimax",) if fault.minimax_only else ("qwen3",)
    if position is Position.ALL_PARALLEL:
        return PARALLEL
    return (SYNTHESIZER,) if position is Position.SYNTHESIZER else (FALLBACK,)


def applies(position: Position, fault: Fault) -> bool:
    """MiniMax's in-body codes exist only on MiniMax: the one-parallel position scripts them there."""
    return not fault.minimax_only or position is Position.ONE_PARALLEL


def expected(position: Position, fault: Fault, attempts: int) -> Expected:
    """The intended outcome of ``fault`` at ``position`` (``attempts`` = retry_max_attempts)."""
    faulted = faulted_aliases(position, fault)
    failed = fault.kind in FAILING
    calls = calls_of(fault, attempts)
    if position is Position.ONE_PARALLEL:
        # Four members still answer: the judge runs as usual; only a failed call degrades.
        return Expected(200, "orchestrated", f"synthesis:{SYNTHESIZER}", failed, faulted, "parallel", calls)
    if position is Position.ALL_PARALLEL:
        if failed:  # no parallel answer: no synthesis, no best answer, the first single model
            return Expected(200, "fallback", f"single:{FALLBACK}", True, faulted, "parallel", calls)
        # Answers arrived (valid or not): the judge reconciles them.
        return Expected(200, "orchestrated", f"synthesis:{SYNTHESIZER}", False, faulted, "parallel", calls)
    if position is Position.SYNTHESIZER:
        if failed:  # no answer from claude: its backup judges
            return Expected(
                200, "orchestrated", f"synthesis:{SYNTH_BACKUP}", True, faulted, "synthesizer", calls
            )
        if fault.kind is Kind.INVALID:  # answered, repaired, still invalid: the best parallel answer
            return Expected(200, "fallback", "best-parallel", True, faulted, "synthesizer", 2, repaired=True)
        return Expected(200, "orchestrated", f"synthesis:{SYNTHESIZER}", False, faulted, "synthesizer", calls)
    # FALLBACK: a degraded fallback whatever happens; llama-70b, else the next single model.
    if failed:
        return Expected(200, "fallback", f"single:{FALLBACK_NEXT}", True, faulted, "fallback", calls)
    if fault.kind is Kind.INVALID:
        return Expected(
            200, "fallback", f"single:{FALLBACK_NEXT}", True, faulted, "fallback", 2, repaired=True
        )
    return Expected(200, "fallback", f"single:{FALLBACK}", True, faulted, "fallback", calls)


# ---- the stack: the fake upstream and the app, both over real HTTP -------------------------------


@dataclass
class Stack:
    origin: str
    upstream: FakeUpstream
    settings: Settings


def fault_settings(urls: dict[str, str], phases_config: Path) -> Settings:
    """Every provider on the fake upstream, with test-scale retries and the phase clocks."""
    settings = upstream_settings(urls, retry_after_cap_s=2, phases_config_file=phases_config)
    assert settings.openai_compat.model == OPENAI_COMPAT_MODEL
    return settings


@contextmanager
def stack(
    workdir: Path, *, model_timeout_s: float = MODEL_TIMEOUT_S, shipped: bool = False
) -> Iterator[Stack]:
    """One fake upstream and one app (free ports, own config file): stacks run side by side.
    ``shipped`` keeps the shipped phase clocks (90 s model timeout, 300 s deadline, 120 s judge)."""
    config = workdir / "phases.toml"
    config.write_text(
        ""
        if shipped
        else f"[phases.{PHASE}]\nmodel_timeout_s = {model_timeout_s}\ndeadline_s = {DEADLINE_S}\n\n"
        f"[phases.{PHASE}.synthesis]\ntimeout_s = {SYNTHESIS_TIMEOUT_S}\n",
        encoding="utf-8",
    )
    upstream = FakeUpstream()
    with running(upstream):
        settings = fault_settings(upstream.base_urls(), config)
        with serve(create_app(settings)) as origin:
            yield Stack(origin, upstream, settings)


def orchestrate(origin: str, **options: Any) -> httpx.Response:
    body: dict[str, Any] = {"idea": "An AI agent that reconciles freight invoices for small brokers"}
    if options:
        body["options"] = options
    return httpx.post(f"{origin}/phases/{PHASE}/orchestrate", json=body, timeout=30)


@dataclass(frozen=True)
class Observed:
    """One request's response and what the fake upstream saw, up to a moment after the response."""

    status: int
    body: dict[str, Any]
    elapsed_s: float
    attempts: int
    """``settings.retry_max_attempts``."""
    idle: bool
    """``upstream.wait_idle(5)`` right after the response."""
    calls: tuple[tuple[str, str], ...]
    """(model id, ``Call.ended``) of every upstream call, once idle."""
    stray: tuple[str, ...]
    """Model ids of calls that arrived after the fake went idle."""
    in_flight: int
    providers_in_flight: dict[str, int]
    """Each provider's calls holding a concurrency slot, from ``GET /providers``."""
    problems: tuple[str, ...]

    def calls_to(self, alias: str) -> list[str]:
        """How each upstream call to ``alias``'s model ended, in order."""
        return [ended for model, ended in self.calls if model == MODEL_IDS[alias]]


def observe(s: Stack, **options: Any) -> Observed:
    started = time.monotonic()
    response = orchestrate(s.origin, **options)
    elapsed = time.monotonic() - started
    upstream = s.upstream
    idle = upstream.wait_idle(5)
    seen = len(upstream.calls)
    time.sleep(0.2)  # far longer than any backoff here: a call still being retried would show up
    calls = list(upstream.calls)
    providers = httpx.get(f"{s.origin}/providers", timeout=5).json()["providers"]
    try:
        body = response.json()
    except ValueError:
        body = {"unparsed": response.text}
    return Observed(
        status=response.status_code,
        body=body,
        elapsed_s=elapsed,
        attempts=s.settings.retry_max_attempts,
        idle=idle,
        calls=tuple((c.model, c.ended) for c in calls),
        stray=tuple(c.model for c in calls[seen:]),
        in_flight=upstream.in_flight,
        providers_in_flight={p["name"]: p["in_flight"] for p in providers},
        problems=tuple(upstream.problems),
    )


def assert_error_shape(seen: Observed) -> None:
    """No bare 500, and every non-200 in the service's one error shape."""
    assert seen.status != 500, seen.body
    if seen.status != 200:
        error = seen.body["error"]
        assert isinstance(error["code"], str) and error["code"], seen.body
        assert isinstance(error["message"], str) and error["message"], seen.body


def assert_nothing_left_running(seen: Observed) -> None:
    """Once the response is out, no upstream request is open, none starts later, no slot is held;
    and the fake rejected no request as malformed."""
    assert seen.idle, "upstream requests were still open 2 s after the response"
    assert seen.stray == (), f"calls arrived after the response: {seen.stray}"
    assert seen.in_flight == 0
    assert [model for model, ended in seen.calls if ended == ""] == []
    assert set(seen.providers_in_flight.values()) == {0}, seen.providers_in_flight
    assert seen.problems == ()


def records_of(body: dict[str, Any], alias: str) -> dict[str, dict[str, Any]]:
    """The model's records by role (from a response, or from an error's ``models``)."""
    models = body["models"] if "models" in body else body["error"]["models"]
    found = [m for m in models if m["model"] == alias]
    by_role = {m["role"]: m for m in found}
    assert len(by_role) == len(found), f"{alias} has two records with one role: {found}"
    return by_role


# ---- the matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    position: Position
    fault: Fault

    @property
    def id(self) -> str:
        return f"{self.position.name.lower()}-{self.fault.name}"


CELLS = [Cell(p, f) for p in Position for f in FAULTS if applies(p, f)]
WORKERS = 8
"""Cells run side by side, each on its own stack: the matrix takes about as long as its slowest
cells (a hang costs retry_max_attempts x the timeout), not the sum of all of them."""


def run_cell(cell: Cell, workdir: Path) -> Observed:
    with stack(workdir) as s:
        if cell.position is Position.FALLBACK:
            for alias in PARALLEL:  # a 400 is not retried: one call each, and no parallel answer
                s.upstream.script(MODEL_IDS[alias], Reply(status=400))
        for alias in faulted_aliases(cell.position, cell.fault):
            s.upstream.script(MODEL_IDS[alias], *[cell.fault.reply] * SCRIPTED)
        return observe(s)


@pytest.fixture(scope="module")
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Observed]]]:
    """Starts every selected cell at once (slowest first); each test waits for its own."""
    selected = {
        item.callspec.id
        for item in request.session.items
        if getattr(item, "function", None) is test_fault_matrix and hasattr(item, "callspec")
    }
    cells = sorted((c for c in CELLS if c.id in selected), key=lambda c: c.fault.kind is not Kind.RETRIED)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fault-cell") as pool:
        yield {c.id: pool.submit(run_cell, c, tmp_path_factory.mktemp(c.id)) for c in cells}


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_fault_matrix(cell: Cell, matrix: dict[str, Future[Observed]]) -> None:
    seen = matrix[cell.id].result()
    position, fault = cell.position, cell.fault
    want = expected(position, fault, seen.attempts)
    body = seen.body

    assert_error_shape(seen)
    assert seen.status == want.http, body
    # Whatever hangs, the phase answers within its deadline (plus the backstop's slack).
    assert seen.elapsed_s < DEADLINE_S + BACKSTOP_SLACK_S + CLIENT_NOISE_S, seen.elapsed_s
    assert body["mode"] == want.mode, body["warnings"]
    assert body["degraded"] is want.degraded, body["warnings"]
    assert_source(body, want.source)

    for alias in want.faulted:
        records = records_of(body, alias)
        first = records[want.role]
        assert_record(first, fault, alias, seen.attempts)
        if want.repaired:
            repair = records["repair"]
            assert repair["status"] == "ok" and repair["output_errors"], repair
            assert repair["attempts"] == 1
        else:
            assert "repair" not in records, records
        assert seen.calls_to(alias) == [fault.ended] * want.calls, alias
        if first["status"] != "ok":
            assert any(w.startswith(f"{alias} ({want.role}) {first['status']}: ") for w in body["warnings"])

    if position is Position.FALLBACK:
        for alias in PARALLEL:
            parallel = records_of(body, alias)["parallel"]
            assert (parallel["status"], parallel["error_kind"], parallel["attempts"]) == (
                "error",
                "bad_request",
                1,
            )
    assert_nothing_left_running(seen)


def assert_record(record: dict[str, Any], fault: Fault, alias: str, attempts: int) -> None:
    if fault.kind in FAILING:
        # The kind and the error first: pytest cuts a long record's repr before them.
        assert record["status"] == fault.status, (record["error_kind"], record["error"], record)
        assert record["error_kind"] == fault.error_kind_of(alias), record
        assert record["attempts"] == calls_of(fault, attempts), record
        assert record["error"], record
        return
    assert record["status"] == "ok", record
    assert record["error_kind"] is None and record["attempts"] == 1, record
    if fault.kind is Kind.INVALID:
        assert record["output_errors"], record
    else:
        assert record["output_errors"] == [], record


def assert_source(body: dict[str, Any], source: str) -> None:
    """Who produced the output: a synthesizer, the best parallel answer, or a single model."""
    assert body["output"], body
    kind, _, alias = source.partition(":")
    if kind == "synthesis":
        assert body["synthesizer"] is not None and body["synthesizer"]["model"] == alias, body["synthesizer"]
        assert records_of(body, alias)["synthesizer"]["status"] == "ok"
        return
    assert body["synthesizer"] is None
    answered = [m for m in body["models"] if m["role"] == "fallback" and m["status"] == "ok"]
    if kind == "best-parallel":
        assert answered == []
        # Two or more valid answers are merged (#18: the merge is the fallback when every judge
        # fails); one is returned as it is.
        valid = [m for m in body["models"] if m["role"] == "parallel" and m["status"] == "ok"]
        valid = [m for m in valid if not m["output_errors"]]
        if len(valid) >= 2:
            merged = f"fallback: merged {len(valid)} schema-valid answers without synthesis"
            assert merged in body["warnings"] and body["merge"] is not None, body["warnings"]
        else:
            assert any("schema-valid answer without synthesis" in w for w in body["warnings"]), body
            assert body["merge"] is None
        return
    assert [m["model"] for m in answered if not m["output_errors"]] == [alias]
    assert f"fallback: answered by the single model {alias}" in body["warnings"]


# ---- beyond one position: drafts in think blocks, everything failing, quorum ---------------------


def test_think_blocks_are_never_taken_for_the_answer(tmp_path: Path) -> None:
    """The draft inside ``<think>`` votes for another verdict; only the answer after it counts."""
    with stack(tmp_path) as s:
        for alias in (*PARALLEL, SYNTHESIZER):
            s.upstream.script(MODEL_IDS[alias], Reply(text=THINK_ANSWER))
        seen = observe(s)
    assert seen.status == 200, seen.body
    assert seen.body["votes"]["choices"] == dict.fromkeys(PARALLEL, VERDICT)
    assert seen.body["output"]["verdict"] == VERDICT
    assert seen.body["synthesizer"]["model"] == SYNTHESIZER
    assert_nothing_left_running(seen)


def test_every_model_failing_is_a_502_with_every_models_error(tmp_path: Path) -> None:
    with stack(tmp_path) as s:
        for model_id in MODEL_IDS.values():
            s.upstream.script(model_id, *[Reply(status=500)] * 10)
        seen = observe(s)
    assert_error_shape(seen)
    assert seen.status == 502 and seen.body["error"]["code"] == "all_models_failed", seen.body
    attempts = seen.attempts
    # Parallel first, then no synthesis (no answers) and the whole single_model chain.
    roles = {"parallel": PARALLEL, "fallback": ("llama-70b", "minimax", "claude-sonnet", "openai-compat")}
    for role, aliases in roles.items():
        for alias in aliases:
            record = records_of(seen.body, alias)[role]
            assert (record["status"], record["error_kind"], record["attempts"]) == (
                "error",
                "server_error",
                attempts,
            ), record
    for alias in MODEL_IDS:
        plays = sum(alias in aliases for aliases in roles.values())
        assert seen.calls_to(alias) == ["error"] * attempts * plays, alias
    assert_nothing_left_running(seen)


def test_every_model_hanging_past_the_deadline_is_a_504(tmp_path: Path) -> None:
    """A request deadline shorter than the model timeout: each member's one attempt is cut at the
    fan-out's end (half the deadline is kept for synthesis), the fallback model gets the rest and is
    cut at the deadline, and the 504 still lists what every model did."""
    deadline_s = 1.0
    with stack(tmp_path) as s:
        for model_id in MODEL_IDS.values():
            s.upstream.script(model_id, *[Reply(hang=True)] * 3)
        seen = observe(s, deadline_s=deadline_s)
    assert_error_shape(seen)
    assert seen.status == 504 and seen.body["error"]["code"] == "deadline_exceeded", seen.body
    # Without the deadline: 2.5 s member timeouts, then the fallback chain's, well over 5 s.
    assert seen.elapsed_s < deadline_s + BACKSTOP_SLACK_S + CLIENT_NOISE_S, seen.elapsed_s
    assert [(m["model"], m["role"]) for m in seen.body["error"]["models"]] == [
        *((a, "parallel") for a in PARALLEL),
        (FALLBACK, "fallback"),
    ]
    for alias in PARALLEL:
        record = records_of(seen.body, alias)["parallel"]
        assert (record["status"], record["error_kind"], record["attempts"]) == ("timeout", "timeout", 1)
        assert "fan-out's end" in record["error"], record
        assert seen.calls_to(alias) == ["disconnected"]
    fallback = records_of(seen.body, FALLBACK)["fallback"]
    assert (fallback["status"], fallback["attempts"]) == ("timeout", 1)
    assert "phase deadline" in fallback["error"], fallback
    assert seen.calls_to(FALLBACK) == ["disconnected"] and seen.calls_to("claude-sonnet") == []
    assert_nothing_left_running(seen)


SHIPPED_DEADLINE_S = 6.0
"""A request deadline far below the shipped 90 s model timeout: a hang is cut by the clock alone."""


@pytest.mark.parametrize("position", list(Position), ids=[p.name.lower() for p in Position])
def test_a_hang_under_the_shipped_config(tmp_path: Path, position: Position) -> None:
    """The shipped clocks, a hung model, and a 6 s request deadline. The fan-out ends at 3 s (half the
    deadline is kept for synthesis), so a hung member costs one attempt, is never retried, and the
    judge still runs; a hung judge leaves the best parallel answer; a hung fallback model is a 504."""
    with stack(tmp_path, shipped=True) as s:
        if position is Position.FALLBACK:
            for alias in PARALLEL:
                s.upstream.script(MODEL_IDS[alias], Reply(status=400))
        hung = faulted_aliases(position, FAULTS[0])
        for alias in hung:
            s.upstream.script(MODEL_IDS[alias], *[Reply(hang=True)] * SCRIPTED)
        seen = observe(s, deadline_s=SHIPPED_DEADLINE_S)
    assert_error_shape(seen)
    assert seen.elapsed_s < SHIPPED_DEADLINE_S + BACKSTOP_SLACK_S + CLIENT_NOISE_S, seen.elapsed_s
    body = seen.body
    for alias in hung:
        assert seen.calls_to(alias) == ["disconnected"], alias  # one attempt, never retried
    if position is Position.FALLBACK:  # the fallback chain is the last resort: the deadline ends it
        assert seen.status == 504 and body["error"]["code"] == "deadline_exceeded", body
        assert_nothing_left_running(seen)
        return
    assert seen.status == 200, body
    assert body["degraded"] is True
    role = "synthesizer" if position is Position.SYNTHESIZER else "parallel"
    for alias in hung:
        record = records_of(body, alias)[role]
        assert (record["status"], record["attempts"]) == ("timeout", 1), record
    if position is Position.ONE_PARALLEL:
        assert body["mode"] == "orchestrated" and body["synthesizer"]["model"] == SYNTHESIZER
        assert "fan-out's end" in records_of(body, "qwen3")["parallel"]["error"]
    elif position is Position.ALL_PARALLEL:  # no answer by the fan-out's end: the single model
        assert_source(body, f"single:{FALLBACK}")
    else:  # the judge hung until the deadline: the best schema-valid parallel answer
        assert_source(body, "best-parallel")
    assert_nothing_left_running(seen)


QUORUM_MODEL_TIMEOUT_S = 5.0


def test_quorum_cancels_a_hung_member_after_the_grace(tmp_path: Path) -> None:
    grace = 0.5
    with stack(tmp_path, model_timeout_s=QUORUM_MODEL_TIMEOUT_S) as s:
        s.upstream.script(MODEL_IDS["qwen3"], Reply(hang=True))
        seen = observe(s, quorum=4, quorum_grace_s=grace)
    assert seen.status == 200, seen.body
    # Four answers, the grace, then synthesis (about a second): never the hung member's model timeout.
    assert seen.elapsed_s < QUORUM_MODEL_TIMEOUT_S - 1.0, seen.elapsed_s
    body = seen.body
    assert body["mode"] == "orchestrated" and body["degraded"] is True
    late = records_of(body, "qwen3")["parallel"]
    assert (late["status"], late["error_kind"], late["attempts"]) == ("late", "late", 1), late
    for alias in PARALLEL:
        if alias != "qwen3":
            assert records_of(body, alias)["parallel"]["status"] == "ok"
    assert seen.calls_to("qwen3") == ["disconnected"]
    assert_nothing_left_running(seen)


# ---- the positions are kill-test's own; the README shows the matrix -------------------------------


def test_positions_follow_the_kill_test_defaults() -> None:
    catalog = catalog_for()
    config = catalog.get(PHASE).config
    assert tuple(c.model for c in config.parallel) == PARALLEL
    assert config.synthesis.models[:2] == (SYNTHESIZER, SYNTH_BACKUP)
    assert config.single_model[:2] == (FALLBACK, FALLBACK_NEXT)
    assert config.min_successes == 2 and config.quorum is None and config.synthesis.hedge_after_s is None
    for alias, model_id in MODEL_IDS.items():  # openai-compat: the server's model, from the settings
        assert catalog.models[alias].model_id == (None if alias == "openai-compat" else model_id)
    assert catalog.models[SYNTHESIZER].provider == "anthropic"


def describe(want: Expected, fault: Fault) -> str:
    """One README cell: the response; the faulted model's record; its upstream calls."""
    kind, _, alias = want.source.partition(":")
    outcome = {
        "synthesis": f"200 orchestrated ({alias})",
        "best-parallel": "200 fallback (best parallel answer)",
        "single": f"200 fallback ({alias})",
    }[kind]
    if want.degraded:
        outcome += ", degraded"
    if fault.kind in FAILING:
        record = f"`{fault.status}` {fault.error_kind}"
        others = [f"{a}: {k}" for a in want.faulted if (k := fault.error_kind_of(a)) != fault.error_kind]
        record += f" ({', '.join(others)})" if others else ""
    elif fault.kind is Kind.INVALID:
        record = "`ok` + output_errors" + (" (its repair too)" if want.repaired else "")
    else:
        record = "`ok`"
    calls = f"{want.calls} call{'s' if want.calls > 1 else ''}{' each' if len(want.faulted) > 1 else ''}"
    return f"{outcome}; {record}; {calls}"


def readme_table(attempts: int = 3) -> str:
    header = "| fault | " + " | ".join(p.value for p in Position) + " |"
    rows = [header, "|---" * (len(Position) + 1) + "|"]
    for fault in FAULTS:
        cells = [
            describe(expected(p, fault, attempts), fault) if applies(p, fault) else "n/a" for p in Position
        ]
        rows.append(f"| {fault.label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def test_readme_table_matches_the_matrix() -> None:
    assert make_settings().retry_max_attempts == 3  # the README states the default's call counts
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, (
        "README's fault table is stale; paste tests.test_fault_matrix.readme_table()"
    )
