"""/docs serves Swagger UI from the service itself (tests/api/test_docs_browser.py shows the page
in a browser)."""

from __future__ import annotations

import re

from pydantic import SecretStr

from tests.support import fake_app

KEYS = SecretStr("docs-key-123")
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
