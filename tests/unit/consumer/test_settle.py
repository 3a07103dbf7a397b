"""Unit tests of ``consumer.settle.settlement``: how the body ends decides the one settle call."""

from __future__ import annotations

import asyncio
import logging

import pytest

from consumer.settle import settlement
from shared.ports import DeliveryUnavailable
from tests.support.fakes import FakeDelivered


class Bug(Exception):
    """An unexpected failure in the processing code."""


async def test_body_returns_acks_once() -> None:
    delivery = FakeDelivered()
    async with settlement(delivery):
        assert delivery.calls == []  # nothing is settled while the body runs
    assert delivery.calls == ["ack"]


async def test_cancelled_body_requeues_then_reraises() -> None:
    delivery = FakeDelivered()
    with pytest.raises(asyncio.CancelledError):
        async with settlement(delivery):
            raise asyncio.CancelledError
    assert delivery.calls == ["requeue"]


async def test_cancelled_task_requeue_survives_a_second_cancel() -> None:
    """Shutdown cancels the task; the requeue it starts is shielded from further cancels."""
    delivery = FakeDelivered(gate=asyncio.Event())
    running = asyncio.Event()

    async def process() -> None:
        async with settlement(delivery):
            running.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(process())
    await running.wait()
    task.cancel()
    await asyncio.sleep(0)  # the task is now waiting for the (gated) requeue
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert delivery.gate is not None
    delivery.gate.set()
    assert await delivery.wait_settled() == "requeue"
    assert delivery.calls == ["requeue"]


async def test_other_exception_requeues_logs_and_is_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivery = FakeDelivered(message_id="m-42", queue="orders")
    with caplog.at_level(logging.ERROR, logger="consumer.settle"):
        async with settlement(delivery):
            raise Bug("boom")
    assert delivery.calls == ["requeue"]
    (record,) = [r for r in caplog.records if r.name == "consumer.settle"]
    assert record.levelno == logging.ERROR
    assert "m-42" in record.getMessage() and "orders" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], Bug)


async def test_unavailable_ack_is_swallowed() -> None:
    delivery = FakeDelivered(fail=DeliveryUnavailable("channel closed"))
    async with settlement(delivery):
        pass
    assert delivery.calls == ["ack"]  # no requeue after a failed ack


async def test_unavailable_requeue_after_exception_is_swallowed() -> None:
    delivery = FakeDelivered(fail=DeliveryUnavailable("channel closed"))
    async with settlement(delivery):
        raise Bug("boom")
    assert delivery.calls == ["requeue"]


async def test_unavailable_requeue_after_cancel_still_reraises_the_cancel() -> None:
    delivery = FakeDelivered(fail=DeliveryUnavailable("channel closed"))
    with pytest.raises(asyncio.CancelledError):
        async with settlement(delivery):
            raise asyncio.CancelledError
    assert delivery.calls == ["requeue"]


class FakeStop:
    """A ``consumer.settle.UserStop``: ``requested`` as given; ``write`` counts its calls."""

    def __init__(self, requested: bool) -> None:
        self.requested = requested
        self.writes = 0

    async def write(self) -> None:
        self.writes += 1


async def test_a_users_cancel_writes_cancelled_acks_and_the_task_goes_on() -> None:
    delivery, stop = FakeDelivered(), FakeStop(requested=True)
    running = asyncio.Event()
    after: list[str] = []

    async def process() -> None:
        async with settlement(delivery, stop):
            running.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0)  # the cancel was withdrawn: awaiting works again
        after.append("went on")

    task = asyncio.create_task(process())
    await running.wait()
    task.cancel()
    await task  # ends normally: not cancelled
    assert not task.cancelled() and after == ["went on"]
    assert (stop.writes, delivery.calls) == (1, ["ack"])


async def test_a_shutdown_with_no_users_cancel_requeues_and_writes_nothing() -> None:
    delivery, stop = FakeDelivered(), FakeStop(requested=False)
    with pytest.raises(asyncio.CancelledError):
        async with settlement(delivery, stop):
            raise asyncio.CancelledError
    assert (stop.writes, delivery.calls) == (0, ["requeue"])


async def test_a_users_cancel_whose_ack_fails_is_still_settled_once() -> None:
    delivery = FakeDelivered(fail=DeliveryUnavailable("channel closed"))
    stop = FakeStop(requested=True)
    async with settlement(delivery, stop):
        raise asyncio.CancelledError
    assert (stop.writes, delivery.calls) == (1, ["ack"])
