"""Every field of the request body reaches the pipeline's PhaseRequest, or is named as the API's own."""

from __future__ import annotations

import dataclasses

import pytest

from app.api.intake import API_OPTIONS, phase_request
from app.api.schemas import OrchestrateOptions, OrchestrateRequest
from app.results import PhaseRequest

SET = {  # a value other than the default for every option
    "models": ["qwen3", "minimax"],
    "single_model": True,
    "include_raw": True,
    "deadline_s": 42.0,
    "quorum": 2,
    "quorum_grace_s": 3.5,
    "strategy": "rank",
    "samples": 3,
    "layers": 2,
    "max_cost_usd": 0.25,
}
BODY = {"idea": "Freight invoice agent", "context": {"opportunity": {"x": 1}}, "instructions": "be brief"}


def test_the_values_cover_every_option_and_differ_from_its_default() -> None:
    # A new option makes this fail until it is given a value here, and so is checked below.
    assert set(SET) == set(OrchestrateOptions.model_fields)
    for name, field in OrchestrateOptions.model_fields.items():
        assert SET[name] != field.get_default(call_default_factory=True), name


def test_every_option_but_the_apis_own_reaches_the_pipeline_by_name() -> None:
    request = phase_request(OrchestrateRequest.model_validate({**BODY, "options": SET}))
    fields = {f.name for f in dataclasses.fields(PhaseRequest)}
    assert set(SET) - API_OPTIONS <= fields
    assert API_OPTIONS.isdisjoint(fields)  # the API's own options never reach the pipeline
    for name in set(SET) - API_OPTIONS:
        expected = tuple(SET[name]) if name == "models" else SET[name]
        assert getattr(request, name) == expected, name
    assert (request.idea, request.context, request.instructions) == (
        BODY["idea"],
        BODY["context"],
        BODY["instructions"],
    )
    assert set(OrchestrateRequest.model_fields) - {"options"} <= fields


def test_defaults_stay_defaults() -> None:
    request = phase_request(OrchestrateRequest(idea="x"))
    assert request == PhaseRequest(idea="x")


def test_an_option_the_pipeline_does_not_know_fails_loudly() -> None:
    class Wider(OrchestrateOptions):
        novel: int = 1

    body = OrchestrateRequest(idea="x").model_copy(update={"options": Wider()})
    with pytest.raises(TypeError, match="novel"):
        phase_request(body)
