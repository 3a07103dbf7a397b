"""``/docs`` in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright) against a real ``conveyor serve``.

Without a token the page loads but the document answers 401; a token typed into the page's
field is sent on the document's fetch and on "Try it out" (never in a URL or cookie); every
documented operation of every queue is on the page; ``POST /myQueue`` executed from the page
answers 201 and the message is really stored. The page runs under its Content-Security-Policy
without a single violation. Screenshots go to ``tests/artifacts/`` (not committed).

Select with ``-m browser``. Without ``/usr/bin/chromium`` this skips locally and fails in CI
(``.ci/run`` installs it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect

from tests.support.api_client import http_call
from tests.support.browser import serve_process, token_for
from tests.support.paths import ARTIFACTS, QUEUES_DIR, SEED_HANDLERS_DIR
from tests.support.queues import queue_files
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

METHODS = ("get", "post", "put", "patch", "delete")
TOKEN_KEY = "conveyor.docs.token"  # the sessionStorage key gateway/static/docs.js uses


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the seed's queues (myQueue, orders) and an auth-off one."""
    with serve_process(tmp_path, [SEED_HANDLERS_DIR, *queue_files(QUEUES_DIR, "open")]) as proc:
        yield proc


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in headless Chromium (the system's; Playwright downloads no browser)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def is_document(response: Response) -> bool:
    return response.url.endswith("/openapi.json")


def operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) the document describes."""
    return [(m, path) for path, item in doc["paths"].items() for m in METHODS if m in item]


def test_docs_page_takes_a_token_shows_every_queue_and_pushes(
    served: ServeProcess, page: Page
) -> None:
    token = token_for(["system_admin"])
    console: list[ConsoleMessage] = []
    page_errors: list[str] = []
    requests: list[Request] = []
    # (Playwright wraps each listener, so they must be plain functions, not bound builtins.)
    page.on("console", lambda message: console.append(message))
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("request", lambda request: requests.append(request))
    ARTIFACTS.mkdir(exist_ok=True)

    # No token yet: the page loads, the document does not (401), and the page explains what
    # to do instead of showing Swagger UI's "Failed to load API definition".
    with page.expect_response(is_document) as first:
        page.goto(f"{served.url}/docs")
    assert first.value.status == 401
    assert "authorization" not in first.value.request.headers
    needs_token = page.locator("#conveyor-needs-token")
    expect(needs_token).to_be_visible()
    expect(needs_token).to_contain_text("needs a bearer token")
    expect(page.locator("#swagger-ui")).to_be_hidden()
    expect(page.get_by_text("Failed to load API definition")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "docs-no-token.png")

    # The token through the page's field: the document's fetch carries it.
    page.locator("#conveyor-token-input").fill(token)
    with page.expect_response(is_document) as second:
        page.locator("#conveyor-token-use").click()
    assert second.value.status == 200
    assert second.value.request.headers["authorization"] == f"Bearer {token}"
    expect(page.locator("#conveyor-token-state")).to_have_text("Token set for this tab.")

    # Every operation of every queue (and of the fixed paths) is on the page.
    status, doc = http_call("GET", f"{served.url}/openapi.json", token=token)
    assert status == 200
    for queue in ("myQueue", "orders", "open"):
        assert f"/{queue}" in doc["paths"] and f"/{queue}/{{id}}" in doc["paths"]
    for method, path in operations(doc):
        summary = f'.opblock-summary-path[data-path="{path}"]'
        expect(page.locator(f".opblock.opblock-{method}:has({summary})")).to_have_count(1)
    page.screenshot(path=ARTIFACTS / "docs.png", full_page=True)

    # "Try it out" → Execute on POST /myQueue with a valid body: 201, shown in the page.
    push = page.locator("#operations-myQueue-push_myQueue")
    push.locator(".opblock-summary-control").click()
    push.get_by_role("button", name="Try it out").click()
    push.locator("textarea.body-param__text").fill(json.dumps({"hello": "from the browser"}))
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url == f"{served.url}/myQueue"
    ) as pushed:
        push.get_by_role("button", name="Execute").click()
    assert pushed.value.status == 201, pushed.value.text()
    assert pushed.value.request.headers["authorization"] == f"Bearer {token}"
    live = push.locator(".live-responses-table")
    expect(live.locator("tbody .response-col_status")).to_have_text("201")
    live.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "docs-try-it-out.png")
    status, listed = http_call("GET", f"{served.url}/myQueue?limit=5", token=token)
    assert status == 200
    assert [item["request"] for item in listed["items"]] == [{"hello": "from the browser"}]

    # The token lives in this tab's sessionStorage only: no URL, no cookie, no localStorage.
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == token
    assert token not in page.evaluate("JSON.stringify(localStorage)")
    assert page.context.cookies() == []
    assert not [r.url for r in requests if token in r.url]

    # A reload in the same tab keeps it; "Forget" drops it (the document is 401 again).
    with page.expect_response(is_document) as reloaded:
        page.reload()
    assert reloaded.value.status == 200
    with page.expect_response(is_document) as forgotten:
        page.locator("#conveyor-token-forget").click()
    assert forgotten.value.status == 401
    assert "authorization" not in forgotten.value.request.headers
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
    expect(needs_token).to_be_visible()
    expect(page.locator("#swagger-ui")).to_be_hidden()
    # And a token again shows the same Swagger UI, with the document.
    page.locator("#conveyor-token-input").fill(token)
    with page.expect_response(is_document) as again:
        page.locator("#conveyor-token-use").click()
    assert again.value.status == 200
    expect(needs_token).to_be_hidden()
    expect(page.locator(".opblock").first).to_be_visible()

    violations = [m.text for m in console if "Content Security Policy" in m.text]
    assert not violations, violations
    assert not page_errors, page_errors


def test_a_public_document_loads_without_a_token(tmp_path: Path, page: Page) -> None:
    """With ``--public-openapi`` the page needs no token: Swagger UI shows the document at
    once, and the token explanation never appears."""
    with serve_process(tmp_path, [SEED_HANDLERS_DIR], "--public-openapi") as proc:
        with page.expect_response(is_document) as first:
            page.goto(f"{proc.url}/docs")
        assert first.value.status == 200
        push = '.opblock.opblock-post:has(.opblock-summary-path[data-path="/myQueue"])'
        expect(page.locator(push)).to_have_count(1)
        expect(page.locator("#conveyor-needs-token")).to_be_hidden()
        expect(page.locator("#swagger-ui")).to_be_visible()
