"""Consumer counts from the RabbitMQ management API (``shared.adapters.rabbitmq.management``).

The management API is a fake (``tests.support.management``) that checks what a real one would.
What ``GET /queues`` shows of it: ``tests/api/test_queues_admin.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from shared.adapters.rabbitmq.management import ConsumerCounts, vhost_of
from tests.support.management import FakeManagement, running_management


@pytest.fixture
async def management() -> AsyncIterator[tuple[FakeManagement, str]]:
    async with running_management() as running:
        yield running


def test_vhost_of_broker_url() -> None:
    assert vhost_of(None) == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672") == "/"
    assert vhost_of("amqp://h/%2F") == "/"
    assert vhost_of("amqp://h/prod") == "prod"


async def test_consumer_counts_by_queue_cached(management: tuple[FakeManagement, str]) -> None:
    fake, url = management
    async with aiohttp.ClientSession() as http:
        counts = ConsumerCounts(url, http, vhost="/", prefix="conveyor.")
        assert await counts.get() == {"echo": 2, "echo.dead": 0}
        fake.queues[0]["consumers"] = 3
        assert await counts.get() == {"echo": 2, "echo.dead": 0}  # within the TTL: cached
        assert len(fake.requests) == 1


async def test_consumer_counts_unknown_when_refused_or_down(
    management: tuple[FakeManagement, str],
) -> None:
    _, url = management
    async with aiohttp.ClientSession() as http:
        wrong = url.replace("p%40ss", "nope")
        assert await ConsumerCounts(wrong, http, vhost="/", prefix="conveyor.").get() is None
        down = "http://127.0.0.1:9"  # discard port: nothing listens
        assert await ConsumerCounts(down, http, vhost="/", prefix="conveyor.").get() is None
