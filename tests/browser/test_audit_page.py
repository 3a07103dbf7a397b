"""The dashboard's audit log page (``#/audit``) in headless Chromium against a real
``conveyor serve``: the header offers it to admin tokens only; it lists the operator actions
newest first (who, what, which queue, the target: a message link or the bulk filter, how
many), pages with Older/Newest, and filters by queue; a queue admin's list offers its own
queues. Screenshots go to tests/artifacts.

Select with ``-m browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.api_client import http_call
from tests.support.browser import (
    LAPTOP,
    PHONE,
    Watched,
    final,
    paste_token,
    push,
    serve_process,
    shot,
    token_for,
)
from tests.support.paths import ARTIFACTS, QUEUES_DIR
from tests.support.queues import queue_files
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Entries the page shows at once (``gateway/static/ui/pages/audit.js``).
PAGE_SIZE = 25


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the test queues ``fail`` (always fails), ``echo`` and ``open``
    (auth off)."""
    with serve_process(tmp_path, queue_files(QUEUES_DIR, "fail", "open", "echo")) as proc:
        yield proc


def post(served: ServeProcess, path: str, token: str | None, body: object = None) -> object:
    status, answer = http_call("POST", f"{served.url}{path}", body, token=token)
    assert status in (200, 202), answer
    return answer


def test_the_audit_page(served: ServeProcess, browser: Browser) -> None:
    root = token_for(["system_admin"], "root@example.com")
    alice = token_for(["fail_admin", "tester"], "alice")
    writer = token_for(["tester"], "bob")
    failed = push(served, "fail", {"n": 1}, writer)
    assert final(served, "fail", failed, writer)["status"] == "ERROR"
    post(served, f"/fail/{failed}/retry", alice)
    post(served, "/open/bulk/delete", None, {"limit": 100})  # auth off: no subject
    final(served, "fail", failed, writer)
    post(served, "/fail/bulk/retry", root, {"status": "ERROR", "limit": 50})
    for _ in range(PAGE_SIZE):  # admin cancels of waiting messages: a page of their own
        post(served, f"/echo/{push(served, 'echo', {}, writer, '?delay=600')}/cancel", root)

    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    expect(page.locator("#nav-audit")).to_be_hidden()  # no token: no audit log
    paste_token(page, writer)
    expect(page.locator("#nav-audit")).to_be_hidden()  # a writer: none either
    paste_token(page, root)
    expect(page.locator("#nav-audit")).to_be_visible()
    page.locator("#nav-audit").click()

    rows = page.locator("#audit-list tbody tr")
    expect(rows).to_have_count(PAGE_SIZE)
    expect(page.locator('#audit-list tr[data-action="cancel"]')).to_have_count(PAGE_SIZE)
    newest = rows.nth(0)
    expect(newest.locator('td[data-label="Who"]')).to_have_text("root@example.com")
    expect(newest.locator('td[data-label="Action"]')).to_have_text("Cancel")
    expect(newest.locator('td[data-label="Queue"]')).to_have_text("echo")
    expect(newest.locator('td[data-label="Messages"]')).to_have_text("1")
    shot(page, "conveyor-ui-audit.png")

    page.locator("#audit-older").click()  # the rest, in the order they were done
    expect(rows).to_have_count(3)
    expect(page.locator("#audit-older")).to_have_count(0)
    expect(page.locator(".pager a")).to_have_text(["Newest"])
    bulk_retry = page.locator('#audit-list tr[data-action="bulk_retry"]')
    expect(bulk_retry.locator('td[data-label="Target"]')).to_have_text("status=ERROR, limit=50")
    expect(bulk_retry.locator('td[data-label="Messages"]')).to_have_text("1")
    bulk_delete = page.locator('#audit-list tr[data-action="bulk_delete"]')
    expect(bulk_delete.locator('td[data-label="Who"]')).to_have_text("anonymous (auth off)")
    expect(bulk_delete.locator('td[data-label="Target"]')).to_have_text("limit=100")
    expect(bulk_delete.locator('td[data-label="Messages"]')).to_have_text("0")
    retry = page.locator('#audit-list tr[data-action="redrive"]')
    expect(retry.locator('td[data-label="Who"]')).to_have_text("alice")
    expect(retry.locator('td[data-label="Action"]')).to_have_text("Retry")
    shot(page, "conveyor-ui-audit-older.png")
    retry.locator('td[data-label="Target"] a').click()  # the message it retried
    expect(page.locator(".crumbs")).to_have_text(f"Queues / fail / {failed}")

    page.goto(f"{served.url}/ui#/audit")
    page.locator("#audit-queue").select_option("fail")
    expect(rows).to_have_count(2)
    expect(page.locator("#audit-list td[data-label='Queue']")).to_have_text(["fail", "fail"])
    shot(page, "conveyor-ui-audit-fail.png")

    # A queue's admin: its own queues to choose from, and only their entries.
    paste_token(page, alice)
    page.goto(f"{served.url}/ui#/audit")
    expect(page.locator("#audit-queue option")).to_have_text(["every queue", "fail"])
    expect(rows).to_have_count(2)
    watched.assert_clean(alice)
    watched.close()

    phone = Watched(browser, PHONE)
    phone.page.goto(f"{served.url}/ui")
    paste_token(phone.page, root)
    phone.page.goto(f"{served.url}/ui#/audit")
    expect(phone.page.locator("#audit-list tbody tr")).to_have_count(PAGE_SIZE)
    phone.page.screenshot(path=ARTIFACTS / "conveyor-ui-audit-phone.png")  # the first screen
    phone.assert_clean(root)
    phone.close()
