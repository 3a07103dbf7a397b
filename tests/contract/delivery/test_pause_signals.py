"""Pause change signals (``CancelSignals.publish_pause_change``, the control channel) on
every adapter: a change reaches every subscriber of every process, cancels and pause changes
never cross, and publishing never raises."""

from __future__ import annotations

import asyncio

from tests.support.deliveries import QUIET, Harness
from tests.support.waiting import wait_until


async def test_a_pause_change_reaches_every_subscriber_of_every_process(harness: Harness) -> None:
    consumer_a = await harness.new(["q"])
    consumer_b = await harness.peer(consumer_a, ["q"])
    gateway = await harness.peer(consumer_a, ["q"])
    seen: list[list[str]] = [[], []]
    await harness.cancels(consumer_a).subscribe_pause_changes(seen[0].append)
    await harness.cancels(consumer_b).subscribe_pause_changes(seen[1].append)
    await harness.cancels(gateway).publish_pause_change("q")
    await harness.cancels(gateway).publish_pause_change("r")
    await _until_seen(seen, [["q", "r"], ["q", "r"]])


async def test_pause_changes_and_cancels_travel_apart(harness: Harness) -> None:
    consumer = await harness.new(["q"])
    gateway = await harness.peer(consumer, ["q"])
    pauses: list[str] = []
    cancels: list[tuple[str, str]] = []
    await harness.cancels(consumer).subscribe_pause_changes(pauses.append)
    await harness.cancels(consumer).subscribe_cancels(lambda q, m: cancels.append((q, m)))
    await harness.cancels(gateway).publish_cancel("q", "stop-1")
    await harness.cancels(gateway).publish_pause_change("q")
    await wait_until(
        lambda: cancels == [("q", "stop-1")],
        "the cancel signal",
        within=5,
        detail=lambda: cancels,
    )
    await _until_seen([pauses], [["q"]])
    await asyncio.sleep(QUIET)  # and nothing crosses over later
    assert (pauses, cancels) == (["q"], [("q", "stop-1")])


async def test_publish_pause_change_never_raises(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    await delivery.close()
    await harness.cancels(delivery).publish_pause_change("q")


async def _until_seen(seen: list[list[str]], expected: list[list[str]]) -> None:
    async def arrived() -> bool:
        return seen == expected

    await wait_until(arrived, f"pause signals {expected}", within=5, detail=lambda: seen)
