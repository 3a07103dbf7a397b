"""Unit tests of the consumer core (``consumer.worker.Consumer`` with ``consumer.settle``)
over fakes of the store and the work queue: every path of the ack decision.

The behaviour suites run the same paths against real stores, brokers and processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from consumer.worker import Consumer, ConsumerConfig, ConsumerPorts
from conveyor import Context, Retry
from conveyor.context import CancelFlag
from shared.adapters.inprocess.queues import LocalEvents
from shared.domain.message import MessageRecord, Status, utcnow
from shared.platform.logs import JsonFormatter, text_formatter
from shared.platform.metrics import Metrics
from shared.ports import ClaimOutcome, MessageRef
from shared.queues.definitions import parse_definition
from shared.queues.registry import Handler, LoadedQueue, Registry, RegistryHolder
from shared.service.announce import Announcer
from shared.service.dispatch import Dispatcher
from shared.service.notify import Notifier
from tests.support.fakes import FakeClaims, FakeDelivered, FakeWorkQueue
from tests.support.waiting import wait_until

HandlerFunc = Callable[[Any, Any], Awaitable[Any]]


@dataclass
class Rig:
    consumer: Consumer
    claims: FakeClaims
    work: FakeWorkQueue
    events: list[tuple[str, str]]
    ran: list[str]
    contexts: list[Any]

    async def run(self, record: MessageRecord) -> FakeDelivered:
        delivered = await self.work.deliver(record)
        await delivered.wait_settled()
        return delivered


def make_context(queue: LoadedQueue, record: MessageRecord, log: Any, progress: Any) -> Context:
    return cast(
        Context,
        SimpleNamespace(id=record.id, attempt=record.attempts, log=log, cancelled=CancelFlag()),
    )


@pytest.fixture
async def rig_for() -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    made: list[Consumer] = []

    async def build(handler: HandlerFunc, lease: float = 30.0, **options: Any) -> Rig:
        ran: list[str] = []
        contexts: list[Any] = []

        async def recorded(message: Any, ctx: Any) -> Any:
            ran.append(ctx.id)
            contexts.append(ctx)
            return await handler(message, ctx)

        definition = parse_definition(
            Path("q.queue.json"), {"name": "q", "incoming": {"schema": {}}, **options}
        )
        loaded = LoadedQueue(definition, frozenset(), Handler(recorded, True, True))
        claims, work, events = FakeClaims(), FakeWorkQueue(), LocalEvents()
        seen: list[tuple[str, str]] = []
        await events.subscribe_events(lambda queue, mid: seen.append((queue, mid)))
        ports = ConsumerPorts(
            work=work,
            claims=claims,
            dispatch=Dispatcher(work, None),
            announce=Announcer(Notifier(), events),
            registry=RegistryHolder(Registry({"q": loaded})),
            contexts=make_context,
            metrics=Metrics(),
        )
        consumer = Consumer(ports, ConsumerConfig(concurrency=4, lease_seconds=lease), ["q"])
        await consumer.start()
        made.append(consumer)
        return Rig(consumer, claims, work, seen, ran, contexts)

    yield build
    for consumer in made:
        await consumer.shutdown(0.1)


async def done(message: Any, ctx: Any) -> Any:
    return {"ok": message}


async def test_complete_writes_the_result_announces_then_acks(rig_for: Any) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q", {"n": 1})
    delivered = await rig.run(record)
    assert delivered.calls == ["ack"]
    outcome = rig.claims.outcomes[record.id]
    assert (outcome.status, outcome.result) == (Status.COMPLETE, {"ok": {"n": 1}})
    assert rig.events == [("q", record.id)]
    assert rig.claims.calls == ["claim", "finish"]


async def test_a_failure_without_attempts_left_is_error_then_ack(rig_for: Any) -> None:
    async def boom(message: Any, ctx: Any) -> Any:
        raise ValueError("bad input")

    rig = await rig_for(boom)
    record = rig.claims.add("q")
    assert (await rig.run(record)).calls == ["ack"]
    outcome = rig.claims.outcomes[record.id]
    assert outcome.status is Status.ERROR and outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == ("ValueError", "bad input")


@pytest.mark.parametrize("max_attempts", [1, 2], ids=["final", "retried"])
async def test_a_failed_attempt_logs_its_traceback_at_error_in_one_record(
    rig_for: Any, caplog: pytest.LogCaptureFixture, max_attempts: int
) -> None:
    async def nested(message: Any, ctx: Any) -> Any:
        return message["missing_key"]

    rig = await rig_for(nested, max_attempts=max_attempts)
    record = rig.claims.add("q", {})
    with caplog.at_level(logging.INFO, logger="consumer.completion"):
        await rig.run(record)
    [ended] = [r for r in caplog.records if r.name == "consumer.completion"]
    assert ended.levelno == logging.ERROR
    assert "error=KeyError" in ended.getMessage()
    line = json.loads(JsonFormatter().format(ended))
    assert (line["message_id"], line["queue"], line["error_type"]) == (record.id, "q", "KeyError")
    assert line["outcome"] == ("ERROR" if max_attempts == 1 else "PENDING")
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("KeyError: 'missing_key'\n")
    assert 'message["missing_key"]' in line["exception"]
    text = text_formatter().format(ended).splitlines()
    assert "outcome=" in text[0] and text[-1] == "  KeyError: 'missing_key'"


async def test_a_success_logs_at_info_without_a_traceback(
    rig_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await rig_for(done)
    with caplog.at_level(logging.INFO, logger="consumer.completion"):
        await rig.run(rig.claims.add("q", {}))
    [ended] = [r for r in caplog.records if r.name == "consumer.completion"]
    assert ended.levelno == logging.INFO
    assert "exception" not in json.loads(JsonFormatter().format(ended))


async def test_a_failure_with_attempts_left_schedules_a_retry_then_acks(rig_for: Any) -> None:
    async def asks(message: Any, ctx: Any) -> Any:
        raise Retry("later", delay=7)

    rig = await rig_for(asks, max_attempts=3)
    record = rig.claims.add("q")
    assert (await rig.run(record)).calls == ["ack"]
    assert record.id not in rig.claims.outcomes  # no final status
    assert rig.claims.records[record.id].status is Status.PENDING
    ((queue, message_id, delay),) = rig.work.published
    assert (queue, message_id) == ("q", record.id) and 6 < delay <= 7
    assert rig.events == []


async def test_an_early_delivery_is_deferred_not_run(rig_for: Any) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q")
    rig.claims.claim_outcomes = [ClaimOutcome.DEFERRED]
    rig.claims.due = utcnow() + timedelta(seconds=20)
    assert (await rig.run(record)).calls == ["ack"]
    assert rig.ran == []
    ((_, _, delay),) = rig.work.published
    assert 19 < delay <= 20


@pytest.mark.parametrize("outcome", [ClaimOutcome.GONE, ClaimOutcome.FINAL])
async def test_a_deleted_or_final_message_is_acked_unrun(
    rig_for: Any, outcome: ClaimOutcome
) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q")
    rig.claims.claim_outcomes = [outcome]
    assert (await rig.run(record)).calls == ["ack"]
    assert rig.ran == [] and rig.claims.calls == ["claim"]


async def test_a_busy_lease_is_waited_for_then_run_once(rig_for: Any) -> None:
    rig = await rig_for(done, lease=0.3)
    record = rig.claims.add("q")
    rig.claims.claim_outcomes = [ClaimOutcome.BUSY, ClaimOutcome.BUSY]
    assert (await rig.run(record)).calls == ["ack"]
    assert rig.ran == [record.id]
    assert rig.claims.calls == ["claim", "claim", "claim", "finish"]


async def test_cancelled_at_shutdown_releases_and_requeues(rig_for: Any) -> None:
    started, never = asyncio.Event(), asyncio.Event()

    async def blocks(message: Any, ctx: Any) -> Any:
        started.set()
        await never.wait()

    rig = await rig_for(blocks)
    record = rig.claims.add("q")
    delivered = await rig.work.deliver(record)
    await started.wait()
    await rig.consumer.shutdown(0.05)
    assert delivered.calls == ["requeue"]
    assert rig.claims.records[record.id].status is Status.PENDING  # released
    assert "finish" not in rig.claims.calls


async def test_a_store_outage_at_claim_holds_the_delivery_until_it_ends(
    rig_for: Any,
) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q")
    rig.claims.down.add("claim")
    delivered = await rig.work.deliver(record)
    await asyncio.sleep(0.4)  # a few retries
    assert delivered.calls == [] and rig.claims.calls.count("claim") >= 2
    rig.claims.down.clear()
    assert await delivered.wait_settled() == "ack"
    assert rig.claims.outcomes[record.id].status is Status.COMPLETE


async def test_a_store_outage_at_finish_acks_only_after_the_write(rig_for: Any) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q")
    rig.claims.down.add("finish")
    delivered = await rig.work.deliver(record)
    await asyncio.sleep(0.4)
    assert delivered.calls == [] and record.id not in rig.claims.outcomes
    rig.claims.down.clear()
    assert await delivered.wait_settled() == "ack"
    assert rig.claims.outcomes[record.id].status is Status.COMPLETE


async def test_a_failed_finish_among_several_leaves_the_others_acked_and_is_requeued(
    rig_for: Any,
) -> None:
    go = asyncio.Event()

    async def waits(message: Any, ctx: Any) -> Any:
        await go.wait()
        return {"ok": message}

    rig = await rig_for(waits)
    records = [rig.claims.add("q", {"n": i}) for i in range(3)]
    rig.claims.broken.add(records[1].id)
    deliveries = [await rig.work.deliver(record) for record in records]
    await wait_until(lambda: len(rig.ran) == 3, "all three to run")
    go.set()  # the three final writes are asked for in one turn: one batch
    assert [await deliveries[i].wait_settled() for i in (0, 2)] == ["ack", "ack"]
    assert set(rig.claims.outcomes) == {records[0].id, records[2].id}
    assert deliveries[1].calls == []  # held while its write is retried
    await rig.consumer.shutdown(0.05)
    assert deliveries[1].calls == ["requeue"]  # back to the broker, to be redelivered
    assert rig.claims.records[records[1].id].status is Status.PENDING


async def test_a_result_the_store_refuses_ends_error(rig_for: Any) -> None:
    rig = await rig_for(done)
    rig.claims.rejected = True
    record = rig.claims.add("q")
    assert (await rig.run(record)).calls == ["ack"]
    error = rig.claims.outcomes[record.id].error
    assert error is not None and error.type == "ResultRejected"


async def test_a_lost_lease_cancels_the_handler_writes_nothing_and_requeues(
    rig_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cancelled = asyncio.Event()

    async def long(message: Any, ctx: Any) -> Any:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    rig = await rig_for(long, lease=0.3)
    rig.claims.down.add("renew")
    record = rig.claims.add("q")
    with caplog.at_level(logging.WARNING):
        delivered = await rig.work.deliver(record)
        assert await delivered.wait_settled() == "requeue"
    assert cancelled.is_set()
    assert "finish" not in rig.claims.calls and "release" not in rig.claims.calls
    assert any("lease lost" in r.getMessage() for r in caplog.records)


async def test_a_slow_but_working_store_keeps_the_lease(rig_for: Any) -> None:
    async def long(message: Any, ctx: Any) -> Any:
        await asyncio.sleep(1.5)
        return "done"

    rig = await rig_for(long, lease=0.6)
    rig.claims.renew_delay = 0.18  # slower than the renewal period (0.15 s), within the lease
    record = rig.claims.add("q")
    assert (await rig.run(record)).calls == ["ack"]
    assert rig.claims.outcomes[record.id].status is Status.COMPLETE
    assert rig.claims.calls.count("renew") >= 3


# --- a user's cancel (told apart from a shutdown in consumer.settle) ----------------------


async def _cancel_while_running(rig: Rig, started: asyncio.Event) -> tuple[Any, FakeDelivered]:
    record = rig.claims.add("q")
    delivered = await rig.work.deliver(record)
    await started.wait()
    await rig.claims.cancel("q", record.id, None)  # the store flag, as the service sets it
    rig.consumer.cancel(MessageRef("q", record.id))  # the control channel's signal
    assert await delivered.wait_settled() == "ack"
    return record, delivered


async def test_a_cancelled_async_handler_sees_cancellederror_ends_cancelled_and_acks(
    rig_for: Any,
) -> None:
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def long(message: Any, ctx: Any) -> Any:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.set()  # finally blocks run

    rig = await rig_for(long)
    record, delivered = await _cancel_while_running(rig, started)
    assert delivered.calls == ["ack"] and cleaned.is_set()
    assert rig.claims.outcomes[record.id].status is Status.CANCELLED
    assert rig.contexts[0].cancelled.is_set()
    assert "release" not in rig.claims.calls  # not the shutdown path
    assert rig.events == [("q", record.id)]  # waiters are woken


async def test_a_handler_that_swallows_the_cancel_and_returns_still_ends_cancelled(
    rig_for: Any,
) -> None:
    started = asyncio.Event()

    async def stubborn(message: Any, ctx: Any) -> Any:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return {"ignored": "the cancel"}
        return None

    rig = await rig_for(stubborn)
    record, delivered = await _cancel_while_running(rig, started)
    assert delivered.calls == ["ack"]
    assert rig.claims.outcomes[record.id].status is Status.CANCELLED


async def test_a_cancel_seen_only_at_lease_renewal_stops_the_handler(rig_for: Any) -> None:
    started = asyncio.Event()

    async def long(message: Any, ctx: Any) -> Any:
        started.set()
        await asyncio.sleep(30)

    rig = await rig_for(long, lease=0.4)  # renewals every 0.1 s
    record = rig.claims.add("q")
    delivered = await rig.work.deliver(record)
    await started.wait()
    await rig.claims.cancel("q", record.id, None)  # no signal: the store flag only
    assert await delivered.wait_settled() == "ack"
    assert rig.claims.outcomes[record.id].status is Status.CANCELLED


async def test_a_claimed_record_already_flagged_is_cancelled_unrun(rig_for: Any) -> None:
    rig = await rig_for(done)
    record = rig.claims.add("q")
    rig.claims.records[record.id] = dataclasses.replace(record, cancel_requested=True)
    assert (await rig.run(record)).calls == ["ack"]
    assert rig.ran == []
    assert rig.claims.outcomes[record.id].status is Status.CANCELLED


async def test_shutdown_after_a_cancel_signal_for_another_message_still_requeues(
    rig_for: Any,
) -> None:
    started = asyncio.Event()

    async def blocks(message: Any, ctx: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    rig = await rig_for(blocks)
    record = rig.claims.add("q")
    delivered = await rig.work.deliver(record)
    await started.wait()
    rig.consumer.cancel(MessageRef("q", "some-other-message"))  # not ours: nothing happens
    await rig.consumer.shutdown(0.05)
    assert delivered.calls == ["requeue"]
    assert rig.claims.records[record.id].status is Status.PENDING
    assert "finish" not in rig.claims.calls


async def test_a_claim_answered_after_half_its_lease_is_claimed_again_once_it_lapsed(
    rig_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await rig_for(done, lease=0.4)
    rig.claims.claim_delay = 0.3  # a store that stalls mid-call (coming back from an outage)
    record = rig.claims.add("q")
    with caplog.at_level(logging.WARNING):
        delivered = await rig.work.deliver(record)
        await wait_until(
            lambda: any("over half the" in r.getMessage() for r in caplog.records),
            "the late claim to be refused",
        )
        assert rig.ran == []  # not run on the late claim
        rig.claims.claim_delay = 0.0
        assert await delivered.wait_settled() == "ack"  # held, never requeued
    assert rig.ran == [record.id] and rig.claims.calls.count("claim") == 2
    assert rig.claims.outcomes[record.id].status is Status.COMPLETE


async def test_a_second_delivery_of_a_message_running_here_waits_for_it(
    rig_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The store would hand it over (here: every claim succeeds, as an expired lease would).
    release = asyncio.Event()

    async def held(message: Any, ctx: Any) -> Any:
        await release.wait()
        return "done"

    rig = await rig_for(held, lease=0.6)
    record = rig.claims.add("q")
    first = await rig.work.deliver(record)
    await wait_until(lambda: rig.ran == [record.id], "the first run to start")
    rig.claims.records[record.id] = dataclasses.replace(record)  # claimable again
    with caplog.at_level(logging.DEBUG, logger="consumer.claiming"):
        second = await rig.work.deliver(record)
        await wait_until(
            lambda: any("is running; asking again" in r.getMessage() for r in caplog.records),
            "the second delivery to be held",
        )
    assert rig.claims.calls.count("claim") == 1 and rig.ran == [record.id] and not second.calls
    release.set()
    assert await first.wait_settled() == "ack"
    assert await second.wait_settled() == "ack"  # then claimed: final, acked unrun
    assert rig.ran == [record.id]
