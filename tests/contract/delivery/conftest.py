"""The ``harness`` fixture every delivery contract test takes: in-process and RabbitMQ.

``inprocess`` is :class:`InProcessDelivery`; ``rabbitmq`` is :class:`RabbitDelivery` on the
shared broker (127.0.0.1:5672) under a queue prefix of the test's own, whose queues (and
exchanges) are deleted afterwards. ``pytest -m "not distributed"`` runs the in-process half
alone. ``rabbit`` is the RabbitMQ harness alone, for what only RabbitMQ can show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.deliveries import Harness, InProcessHarness, RabbitHarness
from tests.support.services import require_rabbitmq


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.distributed)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    made = InProcessHarness() if request.param == "inprocess" else RabbitHarness(require_rabbitmq())
    try:
        yield made
    finally:
        await made.cleanup()


@pytest.fixture
async def rabbit() -> AsyncIterator[RabbitHarness]:
    made = RabbitHarness(require_rabbitmq())
    try:
        yield made
    finally:
        await made.cleanup()
