"""/docs serves Swagger UI from the service itself, and /openapi.json declares the orchestrate
operation's headers and event stream. (tests/api/test_docs_browser.py shows the page in a browser.)"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from app.api.examples import request_examples
from tests.phases.test_catalog import ORDER
from tests.support import fake_app

KEYS = SecretStr("docs-key-123")
ORCHESTRATE = "/phases/{name}/orchestrate"
EVENTS = ("phase_started", "model_started", "model_finished", "synthesis_started", "result", "error")
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def page_assets(html: str) -> list[str]:
    """Every URL the page's tags load (scripts, styles, icon)."""
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_the_docs_page_loads_every_asset_from_the_service() -> None:
    async with fake_app() as (client, _):
        page = await client.get("/docs")
        assets = page_assets(page.text)
        fetched = {url: await client.get(url) for url in assets}
        redoc = await client.get("/redoc")
    assert page.status_code == 200
    assert sorted(assets) == [
        "/docs/assets/favicon.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    for url, response in fetched.items():
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(ASSET_TYPES[url[url.rindex(".") :]])
        assert len(response.content) > 1000, url
    assert "SwaggerUIBundle" in fetched["/docs/assets/swagger-ui-bundle.js"].text
    assert "https://" not in page.text and "http://" not in page.text
    assert '"validatorUrl": null' in page.text  # no badge fetched from swagger.io
    assert redoc.status_code == 404  # switched off: ReDoc always fetches its logo from a CDN


async def test_the_assets_need_a_key_exactly_when_the_page_does() -> None:
    key = {"Authorization": f"Bearer {KEYS.get_secret_value()}"}
    paths = ("/docs", "/openapi.json", "/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js")
    async with fake_app(api_keys=KEYS) as (client, _):
        open_docs = [(await client.get(p)).status_code for p in paths]
        keyed_elsewhere = (await client.get("/phases")).status_code
    async with fake_app(api_keys=KEYS, docs_require_key=True) as (client, _):
        without = [(await client.get(p)).status_code for p in paths]
        with_key = [(await client.get(p, headers=key)).status_code for p in paths]
    assert open_docs == [200] * len(paths) and keyed_elsewhere == 401
    assert without == [401] * len(paths)
    assert with_key == [200] * len(paths)


async def orchestrate_operation() -> dict[str, Any]:
    async with fake_app() as (client, _):
        spec = (await client.get("/openapi.json")).json()
    operation: dict[str, Any] = spec["paths"][ORCHESTRATE]["post"]
    return operation


async def test_openapi_declares_the_request_headers() -> None:
    operation = await orchestrate_operation()
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert sorted(headers) == ["Cache-Control", "Idempotency-Key", "Prefer", "X-Request-ID"]
    assert headers["Prefer"]["schema"]["enum"] == ["respond-async"]
    assert "/runs/{id}" in headers["Prefer"]["description"]
    assert all(not p["required"] and p["schema"]["type"] == "string" for p in headers.values())
    # Swagger UI's "Try it out" would fill an example in and send it.
    assert not any("example" in p or "examples" in p for p in headers.values())
    assert "Idempotent-Replayed: true" in headers["Idempotency-Key"]["description"]
    assert "409" in headers["Idempotency-Key"]["description"]
    assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255
    assert "opt-in" in headers["Cache-Control"]["description"]
    for directive in ("`max-age=N`", "`no-cache`", "X-Cache: hit", "CACHE_DEFAULT=on"):
        assert directive in headers["Cache-Control"]["description"], directive
    assert re.fullmatch(headers["X-Request-ID"]["schema"]["pattern"], "plan-17-ci")
    assert not re.fullmatch(headers["X-Request-ID"]["schema"]["pattern"], "has spaces")


async def test_openapi_declares_the_response_headers_where_they_apply() -> None:
    responses = (await orchestrate_operation())["responses"]
    assert sorted(responses["200"]["headers"]) == ["Age", "Idempotent-Replayed", "X-Cache", "X-Request-ID"]
    assert responses["200"]["headers"]["X-Cache"]["schema"]["enum"] == ["hit", "miss"]
    assert responses["200"]["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true", "false"]
    assert sorted(responses["202"]["headers"]) == ["Location", "Preference-Applied"]
    assert responses["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/RunOut")
    others = {status: sorted(r["headers"]) for status, r in responses.items() if status not in {"200", "202"}}
    assert {"401", "404", "409", "422", "429", "502", "504"} <= set(others)
    assert all(names == ["X-Request-ID"] for names in others.values())


async def test_openapi_declares_the_event_stream_after_json() -> None:
    ok = (await orchestrate_operation())["responses"]["200"]
    # JSON first: Swagger UI's "Try it out" asks for the first type, and scripts expect JSON.
    assert list(ok["content"]) == ["application/json", "text/event-stream"]
    stream = ok["content"]["text/event-stream"]
    assert stream["schema"]["type"] == "string"
    for event in EVENTS:
        assert f"`{event}`" in ok["description"], event
    assert [e for e in EVENTS if f"event: {e}\n" in stream["example"]] == list(EVENTS[:-1])


async def test_every_phase_is_an_operation_with_its_example_and_its_output_schema() -> None:
    async with fake_app() as (client, _):
        document = (await client.get("/openapi.json")).json()
        published = {name: (await client.get(f"/phases/{name}")).json()["output_schema"] for name in ORDER}
    components = document["components"]["schemas"]
    for name in ORDER:
        operation = document["paths"][f"/phases/{name}/orchestrate"]["post"]
        assert operation["operationId"] == "orchestrate_" + name.replace("-", "_")
        assert [p["in"] for p in operation["parameters"]] == ["header"] * 4  # no path parameter left
        body = operation["requestBody"]["content"]["application/json"]
        assert body["example"] == request_examples()[name]["value"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["allOf"]
        assert answer[0] == {"$ref": "#/components/schemas/OrchestrateResponse"}
        output = answer[1]["properties"]["output"]["$ref"].rsplit("/", 1)[1]
        expected = {k: v for k, v in published[name].items() if k not in ("$schema", "$id")}
        assert components[output] == expected, name
