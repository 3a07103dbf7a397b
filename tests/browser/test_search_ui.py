"""The dashboard's search box and bulk dry run, in headless Chromium against a real
``conveyor serve`` with the seed's queues (``orders`` marks ``sku`` ``"x-conveyor-index":
true``).

Through the page: the queue page offers a search box for the indexed field; searching keeps
the address (``?where=sku:apple``) and lists only the matching messages; the bulk panel then
acts on the search results, its confirmation showing the count from one dry-run request
(``"dry_run": true``) instead of paging the listing, and the action removes exactly those.
Screenshots go to /tmp (``ui-search*.png``).

Select with ``-m browser``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Browser, Request, expect

from tests.support.api_client import http_call
from tests.support.browser import chromium
from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.processes import clean_env
from tests.support.serve import ServeProcess
from tests.support.tokens import claims

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET = "ui-search-browser-test-" + "s" * 40
SHOTS = Path("/tmp")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    for source in SEED_HANDLERS_DIR.iterdir():
        if source.is_file():
            shutil.copyfile(source, handlers / source.name)
    store = f"sqlite:///{tmp_path / 'conveyor.db'}"
    proc = ServeProcess(
        ["--store", store, "--handlers", str(handlers)],
        clean_env(CONVEYOR_JWT_SECRET=SECRET),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_search_box_and_bulk_dry_run(served: ServeProcess, browser: Browser) -> None:
    admin = jwt.encode(claims(["system_admin"], ttl=900), SECRET, algorithm="HS256")
    pushed: dict[str, list[str]] = {"apple": [], "pear": []}
    for sku, count in (("apple", 3), ("pear", 2)):
        for n in range(count):
            status, answer = http_call(
                "POST", f"{served.url}/orders", {"sku": sku, "quantity": n + 1}, token=admin
            )
            assert status == 201, answer
            pushed[sku].append(str(answer["id"]))
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    requests: list[Request] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{served.url}/ui")
    page.locator("#token-input").fill(admin)
    page.locator("#token-use").click()
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
    page.screenshot(path=SHOTS / "ui-search.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#search-go")).to_be_visible()
    page.screenshot(path=SHOTS / "ui-search-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})

    # Bulk on the search results: the count comes from one dry run.
    before = len(requests)
    page.locator("#bulk summary").click()
    expect(page.locator("#bulk summary")).to_contain_text("on the search results")
    page.locator("#bulk-action").select_option("delete")
    page.locator("#bulk-count").click()
    confirm = page.locator("#bulk-confirm")
    expect(confirm).to_contain_text("Delete 3 messages of orders where sku:apple?")
    page.screenshot(path=SHOTS / "ui-search-bulk.png", full_page=True)
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
    page.screenshot(path=SHOTS / "ui-search-after.png", full_page=True)
    assert not errors, errors
    context.close()
