"""The dashboard's view of consumer processes in a real browser (headless Chromium) against
real processes: a ``conveyor gateway`` and a ``conveyor consumer`` sharing a SQLite file over
RabbitMQ.

The Workers page lists the consumer live, with the message it runs in flight; the queues
page counts it among the queue's live consumers; the message page names it as the holder of
the running message. Once the consumer is killed (SIGKILL): the Workers page says gone, the
queue has none live, and the message, still INPROGRESS, is marked stalled when its lease has
lapsed. A token without a reader role is told which role the Workers page needs. Screenshots
go to tests/artifacts; every page runs without a CSP violation or script error.

Select with ``-m browser``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from shared.domain.message import utcnow
from tests.support.api_client import http_call
from tests.support.brokers import RabbitNode
from tests.support.browser import LAPTOP, Watched, paste_token, shot, token_for
from tests.support.cluster import Cluster, cluster_of
from tests.support.paths import UI_DIR
from tests.support.services import queue_prefix
from tests.support.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.distributed]


@pytest.fixture
def cluster(tmp_path: Path, rabbitmq: RabbitNode) -> Iterator[Cluster]:
    """Flags for a gateway and consumers on one SQLite file and the shared RabbitMQ, with the
    ``steps`` queue (runs until its marker file exists)."""
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    for name in ("steps.queue.json", "steps.py"):
        shutil.copyfile(UI_DIR / name, handlers / name)
    (tmp_path / "db").mkdir()
    prefix = queue_prefix("uitest")
    flags = [
        *("--broker", rabbitmq.url, "--queue-prefix", prefix),
        *("--store", f"sqlite:///{tmp_path / 'db' / 'conveyor.db'}"),
        *("--handlers", str(handlers), "--lease-seconds", "3"),
    ]
    with cluster_of(tmp_path, flags, prefix, rabbitmq, handlers) as made:
        yield made


def record(url: str, message_id: str, token: str) -> dict[str, Any]:
    status, answer = http_call("GET", f"{url}/steps/{message_id}", token=token)
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


def test_workers_page_queue_consumers_and_a_stalled_message(
    cluster: Cluster, browser: Browser, tmp_path: Path
) -> None:
    _, url = cluster.gateway("--worker-gone-seconds", "2")
    consumer = cluster.consumer("--worker-heartbeat-seconds", "0.3")
    admin = token_for(["system_admin"])
    status, pushed = http_call(
        "POST", f"{url}/steps", {"marker": str(tmp_path / "never")}, token=admin
    )
    assert status == 201, pushed
    message_id = pushed["id"]
    wait_until_sync(
        lambda: record(url, message_id, admin)["status"] == "INPROGRESS" or None,
        "the message to run",
    )

    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{url}/ui")
    paste_token(page, admin)

    # Workers: the consumer, live, running the message, consuming steps.
    page.locator("header nav a", has_text="Workers").click()
    row = page.locator(f'#workers tr:has(td[data-label="PID"]:text-is("{consumer.pid}"))')
    expect(row.locator('td[data-label="State"]')).to_have_text("live")
    expect(row.locator(".in-flight")).to_have_text("1", timeout=10_000)
    expect(row.locator(".worker-queues")).to_have_text("steps")
    worker_id = row.get_attribute("data-worker")
    assert worker_id is not None
    shot(page, "workers-live.png")

    # Queues: steps has one live consumer (no management API configured).
    page.goto(f"{url}/ui#/")
    steps = page.locator('tr[data-queue="steps"] td[data-label="Consumers"]')
    expect(steps).to_have_text("1 live")
    shot(page, "queues-live.png")

    # The message: held by that worker, not stalled.
    page.goto(f"{url}/ui#/queue/steps/message/{message_id}")
    expect(page.locator("#m-holder")).to_have_text(worker_id)
    expect(page.locator("#m-lease-until")).to_contain_text("lease lapses in ")
    expect(page.locator("#m-stalled")).to_have_count(0)
    shot(page, "message-held.png")

    # The consumer dies: gone, none live, and the message stalled once its lease lapsed.
    consumer.kill()
    page.goto(f"{url}/ui#/workers")
    expect(row.locator('td[data-label="State"]')).to_have_text("gone", timeout=15_000)
    shot(page, "workers-gone.png")
    page.goto(f"{url}/ui#/")
    expect(steps).to_have_text("none live", timeout=15_000)
    shot(page, "queues-gone.png")

    def lapsed() -> bool | None:
        lease = record(url, message_id, admin)["lease"]
        return datetime.fromisoformat(lease["until"]) < utcnow() or None

    wait_until_sync(lapsed, "the dead worker's lease to lapse")
    page.goto(f"{url}/ui#/queue/steps/message/{message_id}")
    expect(page.locator("#m-status")).to_contain_text("INPROGRESS")
    expect(page.locator("#m-holder")).to_have_text(worker_id)
    expect(page.locator("#m-stalled")).to_have_text("stalled")
    expect(page.locator("#m-lease-until")).to_contain_text("lease lapsed ")
    shot(page, "message-stalled.png")

    # A writer may not read the Workers page: told which roles would do.
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{url}/ui#/workers")
    page.locator("#token-input").fill(token_for(["tester"]))
    page.locator("#token-use").click()
    expect(page.locator("#workers-page .notice.error")).to_contain_text(
        "Your token lacks role queue_admin or queue_reader or system_admin or system_reader."
    )
    shot(page, "workers-forbidden.png")

    assert (watched.csp_violations(), watched.errors) == ([], [])
    watched.close()
