"""The dashboard's search box and bulk dry run, in headless Chromium against a real
``conveyor serve`` with the seed's queues (``orders`` marks ``sku`` ``"x-conveyor-index":
true``).

Through the page: the queue page offers a search box for the indexed field; searching keeps
the address (``?where=sku:apple``) and lists only the matching messages; the bulk panel then
acts on the search results, its confirmation showing the count from one dry-run request
(``"dry_run": true``) instead of paging the listing, and the action removes exactly those.
Screenshots go to tests/artifacts (``ui-search*.png``).

Select with ``-m browser``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import LAPTOP, Watched, paste_token, push, serve_process, shot, token_for
from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the seed's queues."""
    with serve_process(tmp_path, [SEED_HANDLERS_DIR]) as proc:
        yield proc


def test_search_box_and_bulk_dry_run(served: ServeProcess, browser: Browser) -> None:
    admin = token_for(["system_admin"])
    pushed: dict[str, list[str]] = {"apple": [], "pear": []}
    for sku, count in (("apple", 3), ("pear", 2)):
        for n in range(count):
            pushed[sku].append(push(served, "orders", {"sku": sku, "quantity": n + 1}, admin))
    watched = Watched(browser, LAPTOP)
    page, requests = watched.page, watched.requests
    page.goto(f"{served.url}/ui")
    paste_token(page, admin)
    page.goto(f"{served.url}/ui#/queue/orders")
    expect(page.locator("#message-list tbody tr")).to_have_count(5)

    # The search box: one control for the indexed sku.
    expect(page.locator("#search input")).to_have_count(1)
    page.locator("#search-sku").fill("apple")
    page.locator("#search-go").click()
    expect(page).to_have_url(f"{served.url}/ui#/queue/orders?where=sku%3Aapple")
    rows = page.locator("#message-list tbody tr")
    expect(rows).to_have_count(3)  # (a 409 while the index builds shows a notice, then this)
    shown = sorted(rows.nth(i).get_attribute("data-id") or "" for i in range(3))
    assert shown == sorted(pushed["apple"])
    expect(page.locator("#search-sku")).to_have_value("apple")  # kept from the address
    shot(page, "ui-search.png")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#search-go")).to_be_visible()
    shot(page, "ui-search-phone.png")
    page.set_viewport_size({"width": 1280, "height": 860})

    # Bulk on the search results: the count comes from one dry run.
    before = len(requests)
    page.locator("#bulk summary").click()
    expect(page.locator("#bulk summary")).to_contain_text("on the search results")
    page.locator("#bulk-action").select_option("delete")
    page.locator("#bulk-count").click()
    confirm = page.locator("#bulk-confirm")
    expect(confirm).to_contain_text("Delete 3 messages of orders where sku:apple?")
    shot(page, "ui-search-bulk.png")
    counting = requests[before:]
    dry = [r for r in counting if r.method == "POST" and "/bulk/" in r.url]
    assert len(dry) == 1, [r.url for r in counting]
    assert json.loads(dry[0].post_data or "{}") == {
        "dry_run": True,
        "limit": 1000,
        "where": ["sku:apple"],
    }
    assert not [r for r in counting if r.method == "GET" and "limit=200" in r.url]
    page.locator("#bulk-yes").click()
    expect(page.locator("#bulk-result")).to_contain_text("Done: 3 acted on, 0 skipped.")
    page.locator("#search-clear").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(2)
    left = page.locator("#message-list tbody tr")
    assert sorted(left.nth(i).get_attribute("data-id") or "" for i in range(2)) == sorted(
        pushed["pear"]
    )
    shot(page, "ui-search-after.png")
    assert not watched.errors, watched.errors
    watched.close()
