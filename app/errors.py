"""The service's errors, one tree; each HTTP-facing error knows its status and how to explain itself.

    OrchestratorError                 base of everything this service raises on purpose
    ├── ConfigError                   bad settings or phase config: stops start-up, never a request
    │   └── DatasetError              python -m evaluation: a dataset it cannot use (names the line)
    ├── RequestError                  the caller can fix it (4xx)
    │   ├── PhaseNotFound             404, lists the valid phase names
    │   ├── ModelNotFound             404, /v1/chat/completions: lists the valid model names
    │   ├── RunNotFound               404, no run with that id for this caller (or its result expired)
    │   ├── RunFinished               409, DELETE on a run that already ended
    │   ├── IdempotencyConflict       409, an Idempotency-Key reused with a different body
    │   ├── PayloadTooLarge           413, the body, idea or context exceeds its MAX_* setting
    │   ├── InvalidOptions            422, an option names a model the phase does not configure, …
    │   ├── ResponseFormatMismatch    400, the output does not match the caller's response_format schema
    │   └── ClientDisconnected        499, the caller left; every upstream call was cancelled
    └── OrchestrationError            the models could not produce an answer (5xx)
        ├── NoUsableProvider          503, names the environment variables to set
        ├── TooManyRuns               503, MAX_LIVE_RUNS runs already live in this process
        ├── TooSlowNow                503, the local model's pace cannot meet the deadline (estimate)
        ├── RunsUnavailable           503, the run queue (Redis) cannot be reached
        ├── RunInterrupted            503, the process running the run stopped; send it again
        ├── AllModelsFailed           502, carries every model's error
        └── DeadlineExceeded          504, the phase deadline passed
            └── JoinedRunStillRunning 504, the deadline passed waiting on another caller's run

Model-level failures are not in this tree: they are ``providers.errors.ProviderError``s, recorded
per model in the response, and only become an ``OrchestrationError`` when too few models answered.
"""

from __future__ import annotations

from typing import Any

from app.domain import Outcome


class OrchestratorError(Exception):
    """Base class; ``message`` is safe to show to callers."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}


class ConfigError(OrchestratorError):
    """The configuration is invalid; the message names the file, the entry and the field."""

    code = "config_error"


class DatasetError(ConfigError):
    """An evaluation dataset is unusable; the message names the file and line, the hint the fix."""

    code = "dataset_error"


class RequestError(OrchestratorError):
    status_code = 400
    code = "bad_request"


class PhaseNotFound(RequestError):
    status_code = 404
    code = "phase_not_found"

    def __init__(self, name: str, valid: list[str]) -> None:
        super().__init__(
            f"unknown phase {name!r}",
            hint=f"use one of: {', '.join(valid)}",
            details={"valid_phases": valid},
        )


class ModelNotFound(RequestError):
    """/v1/chat/completions: the ``model`` names no phase (or a strategy the phase cannot run)."""

    status_code = 404
    code = "model_not_found"


class ResponseFormatMismatch(RequestError):
    """/v1/chat/completions: the phase output does not validate against the caller's json_schema."""

    status_code = 400
    code = "response_format_mismatch"


class RunNotFound(RequestError):
    status_code = 404
    code = "run_not_found"


class RunFinished(RequestError):
    status_code = 409
    code = "run_finished"


class PayloadTooLarge(RequestError):
    """A part of the request exceeds a configured limit; the message names the setting."""

    status_code = 413
    code = "too_large"


class ClientDisconnected(RequestError):
    """The caller went away mid-phase; its upstream calls were cancelled. Nobody reads this
    answer, but the access log shows it (499, as nginx names it)."""

    status_code = 499
    code = "client_closed_request"


class IdempotencyConflict(RequestError):
    """An Idempotency-Key reused with another request: replaying would answer the wrong question."""

    status_code = 409
    code = "idempotency_key_conflict"


class InvalidOptions(RequestError):
    status_code = 422
    code = "invalid_options"


class OrchestrationError(OrchestratorError):
    """The phase could not be answered; ``outcomes`` records what every model did."""

    status_code = 502
    code = "orchestration_failed"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        outcomes: list[Outcome] | None = None,
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.outcomes = outcomes or []


class NoUsableProvider(OrchestrationError):
    status_code = 503
    code = "no_usable_provider"


class TooManyRuns(OrchestrationError):
    """MAX_LIVE_RUNS runs are live in this process; the caller retries after ``retry_after_s``."""

    status_code = 503
    code = "too_many_runs"
    retry_after_s = 5


class TooSlowNow(OrchestrationError):
    """At the local model's current pace the phase cannot end by its deadline: refused before any
    call, with the estimate, rather than a 504 minutes later. Retry after ``retry_after_s``."""

    status_code = 503
    code = "too_slow_now"

    def __init__(self, message: str, *, hint: str, details: dict[str, Any], retry_after_s: int) -> None:
        super().__init__(message, hint=hint, details=details)
        self.retry_after_s = retry_after_s


class RunsUnavailable(OrchestrationError):
    """The run queue (Redis) did not answer; the caller retries after ``retry_after_s``."""

    status_code = 503
    code = "runs_unavailable"
    retry_after_s = 5


class RunInterrupted(OrchestrationError):
    """The process that ran the run died or restarted before it ended; the caller sends it again."""

    status_code = 503
    code = "interrupted_by_restart"


class AllModelsFailed(OrchestrationError):
    status_code = 502
    code = "all_models_failed"


class DeadlineExceeded(OrchestrationError):
    status_code = 504
    code = "deadline_exceeded"


class JoinedRunStillRunning(DeadlineExceeded):
    """The request's deadline passed while it waited on an identical run (same key, or shared
    through the cache) that goes on; with a key, a later retry gets that run's result."""

    code = "joined_run_still_running"
