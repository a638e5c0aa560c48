"""Prometheus metrics, one registry per app (tests build many apps in one process).

Model-level numbers are recorded from each finished request's outcomes, so a model's latency,
tokens, cost, errors and retries are counted exactly once, whichever strategy made the call.
Circuit states are read from the breakers, and the store's size from the store's last write, at
scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.domain import Outcome, Success
from app.resilience.guard import Resilience

_CIRCUIT_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 90, 120, 180, 300)


class _Circuits(Collector):
    def __init__(self, resilience: Resilience, providers: Iterable[str]) -> None:
        self._resilience = resilience
        self._providers = list(providers)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "orchestrator_circuit_state",
            "Circuit breaker per provider and model: 0 closed, 1 half-open, 2 open.",
            labels=["provider", "model"],
        )
        for provider in self._providers:
            for model, guard in sorted(self._resilience.guards_of(provider).items()):
                gauge.add_metric([provider, model], _CIRCUIT_VALUE[guard.breaker.state])
        yield gauge


class _Size(Protocol):
    @property
    def entries(self) -> int: ...

    @property
    def bytes(self) -> int: ...


class MeasuredStore(Protocol):
    """What /metrics needs of a store (app.store is a sibling layer: described, not imported)."""

    backend: str

    def size(self) -> _Size: ...


class _StoreSize(Collector):
    def __init__(self, store: MeasuredStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = self._store.size()  # kept by the store's writes: no query at scrape time
        backend = [self._store.backend]
        entries = GaugeMetricFamily(
            "orchestrator_store_entries", "Entries in the result store (Redis: keys in its database).",
            labels=["backend"],
        )  # fmt: skip
        entries.add_metric(backend, size.entries)
        stored = GaugeMetricFamily(
            "orchestrator_store_bytes",
            "Bytes in the result store (SQLite: keys and bodies, capped by STORE_MAX_BYTES; "
            "Redis: used_memory).",
            labels=["backend"],
        )
        stored.add_metric(backend, size.bytes)
        yield entries
        yield stored


class Metrics:
    def __init__(self) -> None:
        self._watching = False
        self._store_watched = False
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "orchestrator_requests", "Orchestrate requests by phase, mode and HTTP status.",
            ["phase", "mode", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "orchestrator_model_latency_seconds", "Model call latency, retries included.",
            ["provider", "model"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "orchestrator_model_errors", "Failed model calls by kind (timeout, rate_limited, …).",
            ["provider", "model", "kind"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "orchestrator_tokens", "Tokens by provider, model and direction (input/output).",
            ["provider", "model", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "orchestrator_cost_usd", "Estimated spend in USD at the configured prices.",
            ["provider", "model"], registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "orchestrator_retries", "Retried attempts (attempts beyond the first).",
            ["provider", "model"], registry=r,
        )  # fmt: skip
        self.cache = Counter(
            "orchestrator_cache", "Store lookups: hit, miss, replay (Idempotency-Key).",
            ["result"], registry=r,
        )  # fmt: skip

    def watch_circuits(self, resilience: Resilience, providers: Iterable[str]) -> None:
        if not self._watching:  # a second lifespan of the same app must not register twice
            self.registry.register(_Circuits(resilience, providers))
            self._watching = True

    def watch_store(self, store: MeasuredStore) -> None:
        if not self._store_watched:  # as watch_circuits: once per app
            self.registry.register(_StoreSize(store))
            self._store_watched = True

    def request(self, phase: str, mode: str, status: int) -> None:
        self.requests.labels(phase, mode, str(status)).inc()

    def outcomes(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            provider, model = o.model.provider, o.model.model_id
            if o.attempts > 1:
                self.retries.labels(provider, model).inc(o.attempts - 1)
            if isinstance(o, Success):
                usage = o.completion.usage
                self.latency.labels(provider, model).observe(o.latency_ms / 1000)
                self.tokens.labels(provider, model, "input").inc(usage.input_tokens)
                self.tokens.labels(provider, model, "output").inc(usage.output_tokens)
                self.cost.labels(provider, model).inc(o.cost_usd)
            elif o.status in ("error", "timeout"):
                self.latency.labels(provider, model).observe(o.latency_ms / 1000)
                self.errors.labels(provider, model, o.error_kind).inc()

    def store_lookup(self, headers: Mapping[str, str]) -> None:
        """Count what the result store did for a request, from the headers it set."""
        if "X-Cache" in headers:
            self.cache.labels(headers["X-Cache"]).inc()
        if headers.get("Idempotent-Replayed") == "true":
            self.cache.labels("replay").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
