"""``shared.adapters.rabbitmq.acks``: which acks one ``multiple`` ack may carry, and that the
acks of one loop turn are sent that way (a recording channel; the broker's side is in
``tests/contract/delivery/test_rabbitmq.py``)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiormq.abc import AbstractChannel
from aiormq.exceptions import ChannelInvalidStateError

from shared.adapters.rabbitmq.acks import ChannelAcks, plan
from shared.ports import DeliveryUnavailable


@pytest.mark.parametrize(
    ("decided", "unsettled", "run", "singles"),
    [
        ({1, 2, 3}, {1, 2, 3}, [1, 2, 3], []),
        ({1, 2, 4}, {1, 2, 3, 4}, [1, 2], [4]),  # 3 undecided: not covered
        ({2, 3}, {1, 2, 3}, [], [2, 3]),  # the lowest is undecided
        ({1}, {1, 2}, [], [1]),  # a run of one is a single ack
        ({5, 7}, {5, 7}, [5, 7], []),  # 6 was settled before (requeued): not counted
        ({5, 7}, {5, 6, 7}, [], [5, 7]),  # 6 still unsettled (its requeue in flight)
    ],
)
def test_plan(decided: set[int], unsettled: set[int], run: list[int], singles: list[int]) -> None:
    assert plan(decided, unsettled) == (run, singles)


class Recording:
    """A channel that records ``basic_ack`` calls (``fail``: raise as a closed channel)."""

    def __init__(self) -> None:
        self.acks: list[tuple[int, bool]] = []
        self.fail = False

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        if self.fail:
            raise ChannelInvalidStateError("closed")
        self.acks.append((delivery_tag, multiple))


def channel_acks(channel: Recording, tags: range) -> ChannelAcks:
    acks = ChannelAcks(cast(AbstractChannel, channel))
    for tag in tags:
        acks.delivered(tag)
    return acks


async def test_one_turns_acks_go_as_one_multiple_ack_and_singles() -> None:
    channel = Recording()
    acks = channel_acks(channel, range(1, 7))
    acks.settled(3)  # requeued
    await asyncio.gather(*(acks.ack(tag) for tag in (2, 1, 4, 6)))  # 5 undecided
    assert channel.acks == [(4, True), (6, False)]
    await acks.ack(5)  # alone now: one single ack
    assert channel.acks[-1] == (5, False)


async def test_a_failed_send_fails_each_of_its_acks() -> None:
    channel = Recording()
    acks = channel_acks(channel, range(1, 4))
    channel.fail = True
    outcomes: list[Any] = await asyncio.gather(
        *(acks.ack(tag) for tag in (1, 2, 3)), return_exceptions=True
    )
    assert all(isinstance(o, DeliveryUnavailable) for o in outcomes)
