"""/docs in a real browser: Debian's chromium, driven by Playwright, against the real app under
uvicorn and the fake upstream. The page must render with every request kept on this machine
(anything else is recorded and refused, as offline), and "Try it out" must run a phase.

Nothing is downloaded: Playwright launches /usr/bin/chromium (`make system-packages` installs it).
Waits are generous and event-driven (Playwright's auto-waiting), for a busy 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright

from app.main import create_app
from tests.fakes.upstream import FakeUpstream, running
from tests.needs import CHROMIUM
from tests.phases.test_catalog import ORDER
from tests.support import serve, upstream_settings

pytestmark = pytest.mark.needs_chromium
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 60_000
"""For any element to appear: the page parses a 1.5 MB script and renders 15 examples."""
RUN_MS = 180_000
"""For a phase run to come back (six model calls to the fake, on a shared machine)."""
OPERATION = "#operations-phases-orchestrate_phases__name__orchestrate_post"
"""The generic ``POST /phases/{name}/orchestrate``; each phase also has an operation of its own."""


def phase_operation(name: str) -> str:
    return "#operations-phases-orchestrate_" + name.replace("-", "_")


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    """The real app, served on 127.0.0.1, with every provider pointed at the fake upstream."""
    upstream = FakeUpstream()
    with running(upstream):
        app = create_app(upstream_settings(upstream.base_urls(), store_backend="none"))
        with serve(app) as served:
            yield served


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile per test
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
        )
        try:
            yield context
        finally:
            context.close()


class Offline:
    """Records every request the browser makes; lets only this machine's through."""

    def __init__(self, context: BrowserContext) -> None:
        self.urls: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        self.urls.append(route.request.url)
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort("internetdisconnected")

    def left_the_machine(self) -> list[str]:
        return [url for url in self.urls if urlsplit(url).hostname != "127.0.0.1"]


def open_docs(browser: BrowserContext, origin: str) -> tuple[Page, list[str]]:
    """/docs opened, with the page's script errors collected as they happen."""
    errors: list[str] = []
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(origin + "/docs")
    return page, errors


def test_the_docs_render_every_phase_with_nothing_from_the_internet(
    browser: BrowserContext, origin: str
) -> None:
    offline = Offline(browser)
    page, errors = open_docs(browser, origin)
    assert offline.left_the_machine() == []  # the page and its scripts, before anything renders
    operation = page.locator(OPERATION)
    operation.locator(".opblock-summary").first.click()
    examples = operation.locator("select.examples-select-element option")
    expect(examples).to_have_count(len(ORDER), timeout=WAIT_MS)
    assert examples.all_inner_texts() == [f"{name}: POST /phases/{name}/orchestrate" for name in ORDER]
    for name in ORDER:  # and every phase as an operation of its own, under its path
        summary = page.locator(phase_operation(name)).locator(".opblock-summary-path")
        expect(summary).to_have_text(f"/phases/{name}/orchestrate")
    assert {f"{origin}/docs/assets/swagger-ui-bundle.js", f"{origin}/openapi.json"} <= set(offline.urls)
    assert offline.left_the_machine() == []
    assert errors == []


def test_try_it_out_runs_the_kill_test_example(browser: BrowserContext, origin: str) -> None:
    offline = Offline(browser)
    page, errors = open_docs(browser, origin)
    operation = page.locator(phase_operation("kill-test"))
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    expect(operation.locator("textarea.body-param__text")).to_contain_text('"idea"')
    operation.locator("button.execute").click()

    # The live response Swagger UI shows under "Server response" (the header row has the class too).
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(status).to_have_text("200", timeout=RUN_MS)
    body = operation.locator(".live-responses-table tr.response .response-col_description pre").first
    expect(body).to_contain_text('"mode": "orchestrated"')
    expect(body).to_contain_text('"phase": "kill-test"')
    assert f"{origin}/phases/kill-test/orchestrate" in offline.urls
    assert offline.left_the_machine() == []
    assert errors == []
