"""The validated request body as the pipeline's ``PhaseRequest``: the one place options cross over."""

from __future__ import annotations

from app.api.schemas import OrchestrateRequest
from app.results import PhaseRequest

API_OPTIONS = frozenset({"include_raw"})
"""Options the API applies to the response itself; every other option is the pipeline's, by name."""


def phase_request(body: OrchestrateRequest) -> PhaseRequest:
    """``body`` for the pipeline; an option ``PhaseRequest`` does not know is a TypeError, not a loss."""
    options = body.options.model_dump(exclude=set(API_OPTIONS))
    if options["models"] is not None:
        options["models"] = tuple(options["models"])  # frozen: the pipeline only reads it
    return PhaseRequest(idea=body.idea, context=body.context, instructions=body.instructions, **options)
