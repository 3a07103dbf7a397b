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

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import LAPTOP, final, paste_token, push, serve_process, shot, token_for
from tests.support.paths import REPO, SEED_HANDLERS_DIR
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = REPO / "docs"
ORDERS = [("apple", 3), ("pear", 2), ("apple", 12), ("kiwi", 1), ("pear", 1)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the example queues only."""
    with serve_process(tmp_path, [SEED_HANDLERS_DIR]) as proc:
        yield proc


def pushed(served: ServeProcess, token: str, queue: str, body: object, query: str = "") -> str:
    """The id of the message pushed, once final (unless delayed)."""
    message_id = push(served, queue, body, token, query)
    if not query:
        final(served, queue, message_id, token)
    return message_id


def save(page: Page, name: str) -> None:
    """The page into tests/artifacts/, and into docs/ when asked to."""
    path = shot(page, name)
    if os.environ.get("CONVEYOR_WRITE_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / name)


def test_the_docs_screenshots_show_the_example_queues(
    served: ServeProcess, browser: Browser
) -> None:
    admin = token_for(["system_admin"])
    ids = [pushed(served, admin, "orders", {"sku": s, "quantity": q}) for s, q in ORDERS]
    pushed(served, admin, "orders", {"sku": "apple", "quantity": 5}, "?delay=3600")
    for body in ({"hello": "world"}, {"hello": "Ada", "world": "Lovelace"}):
        pushed(served, admin, "myQueue", body)
    shoot(browser, served, admin, ids[0])


def shoot(browser: Browser, served: ServeProcess, admin: str, order: str) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.goto(f"{served.url}/ui")
    paste_token(page, admin)
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
