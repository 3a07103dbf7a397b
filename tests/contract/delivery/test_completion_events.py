"""Completion events (``shared.ports.CompletionEvents``) on every adapter: every subscriber of
every process hears each final event, changes reach change subscribers only, and publishing
never raises."""

from __future__ import annotations

import asyncio
import time

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

    async def test_publish_event_never_raises(self, harness: Harness) -> None:
        delivery = await harness.new(["q"])
        await delivery.close()
        await harness.events(delivery).publish_event("q", "m-1")
