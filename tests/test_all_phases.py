"""Every phase through the real pipeline: the output validates against the schema GET publishes."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tests.phases.test_catalog import ORDER
from tests.support import fake_app


@pytest.mark.parametrize("phase", ORDER)
async def test_phase_output_validates_against_its_published_schema(phase: str) -> None:
    async with fake_app() as (client, _):
        schema = (await client.get(f"/phases/{phase}")).json()["output_schema"]
        response = await client.post(
            f"/phases/{phase}/orchestrate", json={"idea": "Freight invoice reconciliation agent"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "orchestrated"
    assert list(Draft202012Validator(schema).iter_errors(body["output"])) == []
