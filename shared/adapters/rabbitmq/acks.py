"""The acks of one AMQP channel decided in one loop turn, sent as few frames as is safe.

A delivery's ack is decided in one place (``consumer.settle``) and reaches
``RabbitDelivered.ack``, which hands it to its channel's :class:`ChannelAcks`. The first ack
of a turn schedules a flush (``loop.call_soon``); the flush sends the acks decided by then:

- the decided tags below the lowest delivery of the channel still unsettled and not decided
  (in flight in a handler, or whose requeue/reject is not sent yet) form one run: every
  delivery the broker still counts as unacked up to the run's highest tag is one of them, so
  one ``basic.ack(multiple=True)`` of that tag settles exactly them (two or more);
- every other decided tag gets its own ``basic.ack``.

So a tag never decided, or decided otherwise (a requeue or reject, sent at once as its own
frame before it stops counting as unsettled), is never acked by a ``multiple`` ack. Each
caller awaits its frame's send and gets ``DeliveryUnavailable`` if it failed: a lost
connection loses nothing, since the broker requeues every delivery of a closed channel not
acked (the final statuses are written; those redeliveries find them final and are acked).

Delivery tags count per channel incarnation: a channel re-opened after a reconnect gets a
:class:`ChannelAcks` of its own (``RabbitWork`` keys them by the channel object).
"""

from __future__ import annotations

import asyncio

from aiormq.abc import AbstractChannel

from shared.adapters.rabbitmq.channels import FAILURES, failure


def plan(decided: set[int], unsettled: set[int]) -> tuple[list[int], list[int]]:
    """``(run, singles)``: the decided tags one ``multiple`` ack settles (two or more, below
    every unsettled undecided tag), and those acked one by one. ``unsettled``: every tag of
    the channel delivered and not yet settled, the decided ones included."""
    blocking = unsettled - decided
    first_gap = min(blocking) if blocking else None
    tags = sorted(decided)
    run = [t for t in tags if first_gap is None or t < first_gap]
    if len(run) < 2:
        return [], tags
    return run, tags[len(run) :]


class ChannelAcks:
    """The unsettled deliveries of one channel incarnation and its acks of this turn."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self._unsettled: set[int] = set()
        self._decided: dict[int, asyncio.Future[None]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def delivered(self, tag: int) -> None:
        """A delivery arrived on this channel: unsettled until :meth:`settled` or acked."""
        self._unsettled.add(tag)

    def settled(self, tag: int) -> None:
        """``tag`` was settled otherwise (its requeue or reject sent, or failed)."""
        self._unsettled.discard(tag)

    async def ack(self, tag: int) -> None:
        """Ack ``tag`` with this turn's others; raises DeliveryUnavailable if not sent."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._decided:
            loop.call_soon(self._flush)
        self._decided[tag] = future
        await future

    def _flush(self) -> None:
        decided, self._decided = self._decided, {}
        task = asyncio.create_task(self._send(decided), name="rabbitmq-acks")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, decided: dict[int, asyncio.Future[None]]) -> None:
        run, singles = plan(set(decided), self._unsettled)
        groups = ([run] if run else []) + [[tag] for tag in singles]
        for group in groups:
            error: Exception | None = None
            try:
                await self.channel.basic_ack(delivery_tag=group[-1], multiple=len(group) > 1)
            except FAILURES as exc:
                error = failure("ack not sent", exc)
            for tag in group:
                self._unsettled.discard(tag)
                future = decided[tag]
                if future.done():  # its caller was cancelled meanwhile
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
