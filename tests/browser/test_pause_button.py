"""The dashboard's Pause / Resume button on a queue page, in headless Chromium against a
real ``conveyor serve``: a writer sees the state line and no button; an admin pauses the
queue (the line says since when and by whom, ``GET /queues`` agrees and the queues page
tags it), a message pushed
meanwhile stays ``PENDING``, and Resume runs it. Screenshots go to tests/artifacts.

Select with ``-m browser``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.api_client import http_call
from tests.support.browser import (
    LAPTOP,
    Watched,
    final,
    paste_token,
    push,
    serve_process,
    shot,
    token_for,
)
from tests.support.paths import QUEUES_DIR
from tests.support.queues import queue_files
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the test queues ``echo`` (paused and resumed), ``fail`` (left
    running) and ``open``."""
    with serve_process(tmp_path, queue_files(QUEUES_DIR, "fail", "open", "echo")) as proc:
        yield proc


def pause_state(served: ServeProcess, token: str) -> object:
    status, answer = http_call("GET", f"{served.url}/queues", token=token)
    assert status == 200, answer
    assert isinstance(answer, dict)
    (echo,) = [q for q in answer["queues"] if q["name"] == "echo"]
    return echo["pause"]


def test_the_pause_button(served: ServeProcess, browser: Browser) -> None:
    writer = token_for(["tester"], "bob")
    admin = token_for(["echo_admin", "tester"], "alice@example.com")
    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, writer)
    page.goto(f"{served.url}/ui#/queue/echo")
    expect(page.locator("#pause-state")).to_have_text("Running: consumers take its messages.")
    expect(page.locator("#pause-toggle")).to_have_count(0)  # a writer: no button

    paste_token(page, admin)
    page.goto(f"{served.url}/ui#/queue/echo")
    toggle = page.locator("#pause-toggle")
    expect(toggle).to_have_text("Pause")
    toggle.click()
    expect(toggle).to_have_text("Resume")
    expect(page.locator("#pause-state")).to_contain_text("Paused since")
    expect(page.locator("#pause-state")).to_contain_text("by alice@example.com")
    state = pause_state(served, admin)
    assert isinstance(state, dict) and state["paused_by"] == "alice@example.com", state
    expect(page.locator("#pause-control")).to_have_text(re.compile(r"^Paused since .*Resume$"))
    waiting = push(served, "echo", {"n": 1}, writer)
    page.goto(f"{served.url}/ui#/")  # the queues page marks it too
    expect(page.locator('tr[data-queue="echo"] .tag')).to_have_text("paused")
    expect(page.locator('tr[data-queue="fail"] .tag')).to_have_count(0)
    shot(page, "conveyor-ui-paused-list.png")
    page.goto(f"{served.url}/ui#/queue/echo")
    row = page.locator(f'#message-list tr[data-id="{waiting}"]')
    # The consumer took its delivery and parked it; the list (it refreshes) labels it so.
    status_cell = row.locator('td[data-label="Status"]')
    expect(status_cell).to_have_text(re.compile(r"^PENDING\s*parked$"))
    shot(page, "conveyor-ui-pause.png")
    status, record = http_call("GET", f"{served.url}/echo/{waiting}", token=writer)
    assert status == 200 and isinstance(record, dict), record
    assert (record["status"], record["delivery"]) == ("PENDING", "parked"), record

    toggle.click()
    expect(toggle).to_have_text("Pause")
    expect(page.locator("#pause-state")).to_have_text("Running: consumers take its messages.")
    assert final(served, "echo", waiting, writer)["status"] == "COMPLETE"
    expect(row.locator('td[data-label="Status"]')).to_have_text("COMPLETE")
    shot(page, "conveyor-ui-resumed.png")
    watched.assert_clean(admin)
    watched.close()
