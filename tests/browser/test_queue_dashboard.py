"""The queue page an operator keeps open, in a real browser (headless Chromium against a
real ``conveyor serve``): each message's error (type and message), a retrying and a delayed
PENDING message labelled apart from a queued one, each finished message's run duration, and
the last hour's charts (inline SVG) drawn from ``GET /{queue}/stats`` once the consumer
flushed its rollups. Runs under the page's Content-Security-Policy without a violation.
Screenshots go to tests/artifacts (``conveyor-ui-queue*.png``).

Select with ``-m browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.support.paths import FIXTURES
from tests.support.serve import ServeProcess
from tests.support.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the ``mixed`` queue, flushing rollups every 0.3 s."""
    with serve_process(tmp_path, [FIXTURES / "charts"], "--rollup-flush-seconds", "0.3") as proc:
        yield proc


def get(served: ServeProcess, path: str, token: str) -> dict[str, Any]:
    status, body = http_call("GET", served.url + path, token=token)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def test_the_queue_page_shows_errors_waiting_kinds_durations_and_charts(
    served: ServeProcess, browser: Browser
) -> None:
    token = token_for(["tester"])
    done = [push(served, "mixed", {"do": "ok", "sleep": s}, token) for s in (0.05, 0.2, 0.4)]
    rejected = [push(served, "mixed", {"do": "reject"}, token) for _ in range(2)]
    retrying = push(served, "mixed", {"do": "retry"}, token)
    delayed = push(served, "mixed", {"do": "ok"}, token, "?delay=3600")
    for message_id in done + rejected:
        final(served, "mixed", message_id, token)
    wait_until_sync(
        lambda: get(served, f"/mixed/{retrying}", token)["error"], "the first attempt to fail"
    )

    def flushed() -> dict[str, Any] | None:
        series = get(served, "/mixed/stats", token)["series"]
        total = {k: sum(p[k] for p in series) for k in ("completed", "failed", "retried")}
        return total if total == {"completed": 3, "failed": 2, "retried": 1} else None

    wait_until_sync(flushed, "the rollups of 6 runs")

    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, token)
    page.goto(f"{served.url}/ui#/queue/mixed")
    rows = page.locator("#message-list tbody tr")
    expect(rows).to_have_count(7)

    retry_row = page.locator(f'tr[data-id="{retrying}"]')
    expect(retry_row).to_have_attribute("data-waiting", "retrying")
    expect(retry_row.locator(".badge-retrying")).to_contain_text("retrying in ")
    expect(retry_row.locator(".error-cell")).to_have_text(
        "ConnectionError: the payment service did not answer"
    )
    delayed_row = page.locator(f'tr[data-id="{delayed}"]')
    expect(delayed_row).to_have_attribute("data-waiting", "delayed")
    expect(delayed_row.locator(".badge-delayed")).to_contain_text("delayed in ")
    expect(delayed_row.locator(".duration")).to_have_text("—")
    for message_id in rejected:
        row = page.locator(f'tr[data-id="{message_id}"]')
        expect(row.locator(".error-cell")).to_have_text("Rejected: the order has no customer")
        expect(row.locator(".badge")).to_have_count(0)
    for message_id, low in zip(done, (50, 200, 400), strict=True):
        text = page.locator(f'tr[data-id="{message_id}"] .duration').inner_text()
        assert text.endswith(" ms") or text.endswith(" s"), text
        ms = float(text[:-3]) if text.endswith(" ms") else float(text[:-2]) * 1000
        assert low <= ms < low + 2000, (message_id, text)
        expect(page.locator(f'tr[data-id="{message_id}"] .error-cell')).to_have_text("")

    outcomes = page.locator("svg#chart-outcomes")
    expect(outcomes).to_be_visible()
    expect(outcomes.locator("rect.bar.c-complete")).not_to_have_count(0)
    expect(outcomes.locator("rect.bar.c-error")).not_to_have_count(0)
    expect(outcomes.locator("rect.bar.c-retry")).not_to_have_count(0)
    titles = outcomes.locator("rect.bar title").all_text_contents()
    total = {
        kind: sum(int(t.split(": ")[1].split()[0]) for t in titles if t.endswith(" " + kind))
        for kind in ("completed", "failed", "retried")
    }
    assert total == {"completed": 3, "failed": 2, "retried": 1}, titles
    runtime = page.locator("svg#chart-runtime")
    expect(runtime.locator("path.line.c-p50")).to_have_count(1)
    expect(runtime.locator("path.line.c-p95")).to_have_count(1)
    expect(page.locator(".chart-box figcaption").first).to_have_text("Finished per minute")
    shot(page, "conveyor-ui-queue.png")
    watched.assert_clean(token)
    watched.close()

    phone = Watched(browser, PHONE)
    phone.page.goto(f"{served.url}/ui")
    paste_token(phone.page, token)
    phone.page.goto(f"{served.url}/ui#/queue/mixed")
    expect(phone.page.locator("svg#chart-runtime")).to_be_visible()
    shot(phone.page, "conveyor-ui-queue-phone.png")
    phone.assert_clean(token)
    phone.close()
