"""create_app(): settings in, a ready FastAPI app out; the lifespan owns the shared HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import FastAPI

from app.api.deps import Services
from app.api.docs import OPENAPI_URL, install_docs
from app.api.errors import install_error_handlers
from app.api.gate import Gate, caller_keys, rate_limit
from app.api.middleware import RequestIdMiddleware
from app.api.openai_errors import OpenAIErrorShape
from app.api.openai_routes import router as openai_router
from app.api.openapi import install_openapi
from app.api.routes import router
from app.api.run_engine import run_engine, working
from app.api.run_routes import router as run_router
from app.api.schemas import ErrorResponse
from app.assembly import assemble
from app.errors import ConfigError
from app.logs import configure_logging
from app.metrics import Metrics
from app.phases.catalog import PhaseCatalog, load_catalog
from app.pipeline import Orchestrator
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES
from app.settings import Settings
from app.store.base import SizedStore, StoreLimits
from app.store.redis_store import RedisStore
from app.store.replay import Replayer
from app.store.sqlite import SQLiteStore
from app.transport import Transport
from app.upstream_http import upstream_client

log = structlog.get_logger("app")

DESCRIPTION = """\
Runs each planning phase across several LLMs in parallel, reconciles their answers with a
synthesizer model, and returns JSON that validates against the phase's published schema, with a
record of what every model did. `GET /phases` lists the phases; `GET /phases/{name}` shows one
phase's models and output schema.
"""


def store_from(settings: Settings) -> SizedStore | None:
    """Redis when REDIS_URL is set (or asked for), the SQLite file otherwise, or nothing."""
    backend = settings.store_backend
    if backend == "auto":
        backend = "redis" if settings.redis_url else "sqlite"
    if backend == "none":
        return None
    limits = StoreLimits(max_bytes=settings.store_max_bytes, max_entry_bytes=settings.store_max_entry_bytes)
    if backend == "sqlite":
        return SQLiteStore(settings.store_path, limits=limits)
    if settings.redis_url is None:
        raise ConfigError(
            "STORE_BACKEND=redis needs REDIS_URL", hint="e.g. REDIS_URL=redis://127.0.0.1:6379/0"
        )
    return RedisStore(
        settings.redis_url.get_secret_value(), limits=limits, timeout_s=settings.redis_timeout_s
    )


def create_app(
    settings: Settings | None = None,
    *,
    providers: Mapping[str, Provider] | None = None,
    transport: Transport | None = None,
) -> FastAPI:
    """Build the app. ``providers`` replaces adapters by name and ``transport`` the HTTP layer
    (both for tests); a bad phase config raises ``ConfigError`` here, before anything serves."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    overrides = dict(providers or {})
    catalog = load_catalog(settings.phases_config_file, known_providers=set(PROVIDER_NAMES) | set(overrides))
    _check_rate_limit(settings)
    if not caller_keys(settings):
        log.warning(
            "open_service",
            message="API_KEYS is not set: anyone who can reach this service can spend its provider keys",
            host=settings.host,
            hint="set API_KEYS before listening beyond 127.0.0.1",
        )
    lifespan = _lifespan(settings, catalog, overrides, transport)

    app = FastAPI(
        title="LLM orchestration service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # The service exports Prometheus metrics (/metrics) and no OpenTelemetry; FastAPI's own
        # probe for an OTel provider ran on every request (4% of the CPU under load).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # /docs is app.api.docs's, its assets served from here, not a CDN; no /redoc (see there).
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        # The gate answers these on every route (app/api/gate.py); documented once, here.
        responses={
            401: {"model": ErrorResponse, "description": "API_KEYS is set and no valid key was sent."},
            413: {"model": ErrorResponse, "description": "The body is over MAX_BODY_BYTES."},
            429: {"model": ErrorResponse, "description": "Over RATE_LIMIT; see Retry-After."},
        },
    )
    app.add_middleware(Gate, settings=settings)
    app.add_middleware(OpenAIErrorShape)  # outside the gate: its 401/413/429 under /v1/ too
    app.add_middleware(RequestIdMiddleware)  # outermost: every response, rejections too, has an id
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(run_router)
    app.include_router(openai_router)
    install_openapi(app, catalog)
    install_docs(app)
    return app


def _check_rate_limit(settings: Settings) -> None:
    """Starlette builds middleware on the first request: a bad value must stop start-up instead."""
    try:
        rate_limit(settings)
    except ValueError:
        raise ConfigError(
            f"RATE_LIMIT={settings.rate_limit!r} is not a rate limit",
            hint="use e.g. 10/second, 120/minute or 1000/hour; off disables it",
        ) from None


def _lifespan(
    settings: Settings,
    catalog: PhaseCatalog,
    overrides: Mapping[str, Provider],
    transport: Transport | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the app owns while it serves: the transport, the providers, the roster, the store."""
    store = store_from(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        replayer = Replayer(store)
        runs = await run_engine(settings, store)
        async with upstream_client(settings, transport) as client:
            built = assemble(settings, client, catalog, overrides)
            registry = built.registry
            providers = {name: registry.get(name) for name in registry.names()}
            metrics.watch_circuits(built.resilience, registry.names())
            if store is not None:
                metrics.watch_store(store)
            app.state.services = Services(
                settings=settings,
                catalog=built.catalog,
                registry=registry,
                roster=built.roster,
                roster_name=built.roster_name,
                client=client,
                replayer=replayer,
                metrics=metrics,
                runs=runs,
                orchestrator=Orchestrator(built.roster, orchestration_enabled=settings.orchestration_enabled),
            )
            log.info(
                "started",
                phases=len(built.catalog.names()),
                roster=built.roster_name,
                providers={n: p.available for n, p in providers.items()},
                orchestration_enabled=settings.orchestration_enabled,
                store=store.backend if store else "none",
            )
            try:
                async with working(app.state.services):
                    yield
            finally:
                await runs.close()  # the service's own runs first: they wait on the replayer
                await replayer.close()  # keyed runs still going: the upstream client closes next
                await built.resilience.close()  # its shared Retry-After pauses' Redis connections
                if store is not None:
                    await store.close()

    return lifespan
