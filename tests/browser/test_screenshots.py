"""The dashboard's screenshots in the docs (``docs/dashboard-queues.png``,
``docs/dashboard-message.png``), taken from a real ``conveyor serve`` on the example queues
(``handlers/``: myQueue and orders, what ``conveyor init`` writes) with a few realistic
messages: priced orders, one out of stock (``ERROR``), one delayed, two myQueue greetings.

Each run checks those pages and saves both images to ``tests/artifacts/``; with
``CONVEYOR_WRITE_SCREENSHOTS=1`` it also overwrites the two files under ``docs/`` (by default
a test never modifies a tracked file). Regenerate them with::

    CONVEYOR_WRITE_SCREENSHOTS=1 python -m pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.api_client import http_call
from tests.support.browser import chromium
from tests.support.paths import ARTIFACTS, REPO, SEED_HANDLERS_DIR
from tests.support.processes import clean_env
from tests.support.serve import ServeProcess
from tests.support.tokens import claims
from tests.support.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET = "screenshots-secret-" + "s" * 40
DOCS = REPO / "docs"
VIEWPORT = {"width": 1280, "height": 860}
ORDERS = [("apple", 3), ("pear", 2), ("apple", 12), ("kiwi", 1), ("pear", 1)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the example queues only."""
    handlers = tmp_path / "handlers"
    shutil.copytree(SEED_HANDLERS_DIR, handlers, ignore=shutil.ignore_patterns("__pycache__"))
    proc = ServeProcess(
        ["--store", f"sqlite:///{tmp_path / 'conveyor.db'}", "--handlers", str(handlers)],
        clean_env(CONVEYOR_JWT_SECRET=SECRET),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.close()


def pushed(served: ServeProcess, token: str, queue: str, body: object, query: str = "") -> str:
    """The id of the message pushed, once final (unless delayed)."""
    status, answer = http_call("POST", f"{served.url}/{queue}{query}", body, token=token)
    assert status == 201, answer
    message_id = str(answer["id"])
    if query:
        return message_id

    def done() -> bool:
        status, record = http_call("GET", f"{served.url}/{queue}/{message_id}", token=token)
        return status == 200 and record["status"] in ("COMPLETE", "ERROR")

    wait_until_sync(done, f"{queue}/{message_id} to finish")
    return message_id


def save(page: Page, name: str) -> None:
    """The page into tests/artifacts/, and into docs/ when asked to."""
    page.screenshot(path=ARTIFACTS / name, full_page=True)
    if os.environ.get("CONVEYOR_WRITE_SCREENSHOTS") == "1":
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


def test_the_docs_screenshots_show_the_example_queues(served: ServeProcess) -> None:
    admin = jwt.encode(claims(["system_admin"], ttl=900), SECRET, algorithm="HS256")
    ids = [pushed(served, admin, "orders", {"sku": s, "quantity": q}) for s, q in ORDERS]
    pushed(served, admin, "orders", {"sku": "apple", "quantity": 5}, "?delay=3600")
    for body in ({"hello": "world"}, {"hello": "Ada", "world": "Lovelace"}):
        pushed(served, admin, "myQueue", body)

    with chromium() as browser:
        shoot(browser, served, admin, ids[0])


def shoot(browser: Browser, served: ServeProcess, admin: str, order: str) -> None:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{served.url}/ui")
    page.locator("#token-input").fill(admin)
    page.locator("#token-use").click()
    expect(page.locator("#token-state")).to_have_text("Token set for this tab.")
    orders = page.locator('tr[data-queue="orders"]')
    expect(orders.locator(".count-COMPLETE")).to_have_text("4")
    expect(orders.locator(".count-ERROR")).to_have_text("1")
    expect(orders.locator(".count-PENDING")).to_have_text("1")
    expect(page.locator('tr[data-queue="myQueue"] .count-COMPLETE')).to_have_text("2")
    expect(page.locator("#queues tbody tr")).to_have_count(2)
    save(page, "dashboard-queues.png")

    page.goto(f"{served.url}/ui#/queue/orders/message/{order}")
    expect(page.locator("#m-status")).to_contain_text("COMPLETE")
    expect(page.locator("#m-result")).to_contain_text('"total": 90')
    expect(page.locator("#action-delete")).to_be_visible()
    save(page, "dashboard-message.png")
    context.close()
