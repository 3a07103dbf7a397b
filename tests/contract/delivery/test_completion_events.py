"""Completion events (``shared.ports.CompletionEvents``) on every adapter: every subscriber of
every process hears each final event, changes reach change subscribers only, and publishing
never raises."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from shared.domain.message import ErrorInfo, MessageRecord, Status
from shared.ports import CARRIED_RECORD_MAX_BYTES, CarriedRecord
from tests.support.deliveries import Harness

# --- completion events (the CompletionEvents port) --------------------------------------


class TestCompletionEvents:
    async def test_published_events_reach_every_subscriber(self, harness: Harness) -> None:
        first = await harness.new(["q"])
        second = await harness.peer(first, ["q"])
        finisher = await harness.peer(first, ["q"])
        seen: list[list[tuple[str, str]]] = [[], []]
        events = harness.events
        await events(first).subscribe_events(lambda queue, mid: seen[0].append((queue, mid)))
        await events(second).subscribe_events(lambda queue, mid: seen[1].append((queue, mid)))
        await events(finisher).publish_event("q", "m-1")
        await events(finisher).publish_event("q", "m-2")
        deadline = time.monotonic() + 5
        expected = [("q", "m-1"), ("q", "m-2")]
        while seen != [expected, expected]:
            assert time.monotonic() < deadline, f"events not received: {seen}"
            await asyncio.sleep(0.02)

    async def test_changes_go_to_change_subscribers_only(self, harness: Harness) -> None:
        first = await harness.new(["q"])
        finisher = await harness.peer(first, ["q"])
        finals: list[str] = []
        changes: list[str] = []
        events = harness.events
        await events(first).subscribe_events(lambda _queue, mid: finals.append(mid))
        await events(first).subscribe_changes(lambda _queue, mid: changes.append(mid))
        await events(finisher).publish_event("q", "c-1", final=False)
        await events(finisher).publish_event("q", "c-2", final=False)
        await events(finisher).publish_event("q", "f-1")
        deadline = time.monotonic() + 5
        while (finals, changes) != (["f-1"], ["c-1", "c-2"]):
            assert time.monotonic() < deadline, f"events not routed: {finals} {changes}"
            await asyncio.sleep(0.02)

    async def test_a_completion_carries_its_final_record_up_to_the_size_bound(
        self, harness: Harness
    ) -> None:
        """A subscriber to completions gets the final record equal to the one published
        (traceback included: gateways filter it per caller); across a broker, a record whose
        JSON is over the bound is not carried (in-process nothing is encoded: it always is)."""
        first = await harness.new(["q"])
        finisher = await harness.peer(first, ["q"])
        heard: list[tuple[str, CarriedRecord | None]] = []
        await harness.events(first).subscribe_completions(
            lambda _queue, mid, carried: heard.append((mid, carried))
        )
        done = replace(
            MessageRecord.new("q", {"n": 1}, message_id="small"),
            status=Status.ERROR,
            error=ErrorInfo("KeyError", "1", "Traceback ...\n"),
            version=3,
        )
        big = replace(done, id="big", result="x" * CARRIED_RECORD_MAX_BYTES)
        await harness.events(finisher).publish_event("q", "small", record=done)
        await harness.events(finisher).publish_event("q", "big", record=big)
        await harness.events(finisher).publish_event("q", "bare")
        deadline = time.monotonic() + 5
        while len(heard) < 3:
            assert time.monotonic() < deadline, f"events not received: {heard}"
            await asyncio.sleep(0.02)
        carried = dict(heard)
        small = carried["small"]
        assert small is not None and small() == done
        assert carried["bare"] is None
        big_carried = carried["big"]
        if harness.events(finisher).hears_itself:
            assert big_carried is not None and big_carried() == big
        else:
            assert big_carried is None

    async def test_publish_event_never_raises(self, harness: Harness) -> None:
        delivery = await harness.new(["q"])
        await delivery.close()
        await harness.events(delivery).publish_event("q", "m-1")
