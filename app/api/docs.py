"""/docs (Swagger UI) with its script, styles and icon served by this service, never a CDN.

FastAPI's own page loads Swagger UI from a public CDN, so on a machine without that CDN (the
offline default, a closed network) the page is blank. fastapi-offline ships Swagger UI's
distribution files and a favicon as package data; they are mounted under ``DOCS_ASSETS`` and the
page points there.

There is no /redoc: ReDoc's bundle always fetches its logo from Redocly's CDN, and one docs page
that works offline is enough. Nor an OAuth2 redirect page: callers authenticate with a bearer key.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
DOCS_ASSETS = "/docs/assets"
"""Where the page's script, styles and icon are served; ``is_docs_path`` gives them the page's access rule."""

_PAGES = frozenset({OPENAPI_URL, DOCS_URL})

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    # Swagger UI would otherwise show a badge image fetched from swagger.io's validator (for any
    # host but localhost): a request off the machine that also tells swagger.io where the spec is.
    "validatorUrl": None,
}


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets (the app is built with docs_url=redoc_url=None)."""
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )


def is_docs_path(path: str) -> bool:
    """The docs page, its assets and the OpenAPI document: one access rule for all."""
    return path in _PAGES or path.startswith(DOCS_ASSETS + "/")


def _root(request: Request) -> str:
    """The mount prefix behind a proxy (ASGI root_path), as FastAPI's own docs pages use it."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
