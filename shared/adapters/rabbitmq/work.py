"""``shared.ports.WorkQueue`` on RabbitMQ quorum queues (less the lifecycle: ``broker``).

Topology, declared idempotently at open in every process, for each queue definition ``name``
(no exchange: publishing and dead-lettering use the default one):

- ``<prefix><name>``: durable quorum queue, ``x-delivery-limit=<delivery_limit - 1>``,
  ``x-dead-letter-exchange=""``, ``x-dead-letter-routing-key=<prefix><name>.dead``;
- ``<prefix><name>.dead``: durable quorum queue of dead letters; nothing consumes it;
- ``<prefix><name>.retry.<ms>``: classic delay queues for scheduled retries, declared on
  first use (``publish_later``; see ``shared.adapters.rabbitmq.delays`` for the tiers and why).

Queue arguments are fixed once a queue exists: declaring it with another ``delivery_limit``
fails (delete the queue first). A publish to a queue nobody declared fails (mandatory).

Delivery limit, measured on RabbitMQ 3.10.8: ``x-delivery-limit = N`` allows **N + 1**
deliveries, the first and N returns. A return is a nack/reject with requeue or the consumer's
channel closing with the delivery unsettled (crash, broker restart); the (N+1)th return
dead-letters the message (reason ``delivery_limit``). Conveyor's ``delivery_limit`` counts
deliveries, so the queue is declared with ``x-delivery-limit = delivery_limit - 1``: a message
is delivered at most ``delivery_limit`` times. ``Delivered.delivery_count`` is the
``x-delivery-count`` header: the returns so far, 0 on the first delivery.

Messages are persistent, body ``{"id": ..., "queue": ...}`` (JSON), ``message_id`` = id,
``app_id`` ``conveyor``, a timestamp and a ``conveyor-queue`` header. A body that does not
parse is logged and rejected without requeue, i.e. dead-lettered.

Publishing: the one confirm-mode channel (``channels.RabbitChannels.confirms``) shared by all
publishes; each writes its frames and awaits its own confirm, so concurrent publishes pipeline.
``publish`` returns once confirmed and raises ``DeliveryUnavailable`` on a nack, a return, a
lost connection or no confirm within ``publish_timeout`` s; while disconnected it fails at once.

Consuming: on the ``consume`` connection, one channel per queue with ``basic.qos(prefetch)``
(a slow queue never starves another), manual acks; the acks of one channel decided in one
loop turn go as one ``basic.ack(multiple=True)`` where that settles exactly them
(``shared.adapters.rabbitmq.acks``), a requeue or reject always as its own frame. A
delivery from before a reconnect cannot be settled (``DeliveryUnavailable``); the broker
redelivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aio_pika.exceptions import DeliveryError, PublishError

from shared.adapters.rabbitmq.acks import ChannelAcks
from shared.adapters.rabbitmq.channels import FAILURES, RabbitChannels, failure
from shared.adapters.rabbitmq.delays import pick_tier, tier_arguments, tier_queue
from shared.ports import DeliveryCallback, DeliveryUnavailable, WorkQueue

log = logging.getLogger(__name__)


class RabbitDelivered:
    """One RabbitMQ delivery; settle once with :meth:`ack` or :meth:`requeue`. Acks go
    through the channel's :class:`ChannelAcks` (one ``multiple`` ack where safe)."""

    __slots__ = ("_acks", "_message", "_settled", "delivery_count", "message_id", "queue")

    def __init__(
        self,
        message: AbstractIncomingMessage,
        acks: ChannelAcks,
        queue: str,
        message_id: str,
        count: int,
    ) -> None:
        self._message = message
        self._acks = acks
        self._settled = False
        self.queue = queue
        self.message_id = message_id
        self.delivery_count = count

    async def ack(self) -> None:
        self._settle_once()
        tag = self._message.delivery_tag
        if tag is None:  # never: consumed with manual acks
            raise DeliveryUnavailable("ack not sent: no delivery tag")
        await self._acks.ack(tag)

    async def requeue(self) -> None:
        self._settle_once()
        try:
            await self._message.nack(requeue=True)
        except FAILURES as exc:
            raise failure("requeue not sent", exc) from exc
        finally:
            self._acks.settled(self._message.delivery_tag or 0)

    def _settle_once(self) -> None:
        if self._settled:
            raise RuntimeError(f"delivery of {self.message_id} settled twice")
        self._settled = True


@dataclass
class _Lane:
    """The consumer side of one queue: its channel, queue object and consumer tag."""

    channel: AbstractRobustChannel
    queue: AbstractQueue
    tag: str | None = None


class RabbitWork(WorkQueue):
    """The ``WorkQueue`` part of ``RabbitDelivery`` (``open``, ``ping`` and ``close`` are the
    delivery's own); uses its :class:`RabbitChannels`."""

    #: Published messages live in durable quorum queues, beyond this process.
    survives_restart = True
    _amqp: RabbitChannels
    _delivery_limit: int
    _lanes: dict[str, _Lane]
    #: Per queue, the acks of its consumer channel's current incarnation.
    _acks: dict[str, ChannelAcks]

    def _init_work(self, delivery_limit: int) -> None:
        self._delivery_limit = delivery_limit
        self._lanes = {}
        self._acks = {}

    def _channel_acks(self, queue: str, message: AbstractIncomingMessage) -> ChannelAcks:
        """The acks of the channel incarnation ``message`` came on (tags restart with a
        channel re-opened after a reconnect: a new one then). Registers the delivery."""
        channel = message.channel
        acks = self._acks.get(queue)
        if acks is None or acks.channel is not channel:
            acks = self._acks[queue] = ChannelAcks(channel)
        if message.delivery_tag is not None:
            acks.delivered(message.delivery_tag)
        return acks

    async def _declare(self, channel: AbstractRobustChannel, queue: str) -> AbstractQueue:
        """Declare ``queue``'s quorum queue and its dead letters' (idempotent). Raises what
        aio-pika raises."""
        name = self._amqp.queue_name(queue)
        await channel.declare_queue(
            name + ".dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
        return await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit - 1,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": name + ".dead",
            },
        )

    async def publish(self, queue: str, message_id: str) -> None:
        await self._send(queue, message_id, self._amqp.queue_name(queue))

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        """Publish to the delay tier for ``delay`` (see ``shared.adapters.rabbitmq.delays``)."""
        amqp = self._amqp
        channel = amqp.confirms
        if amqp.closed or channel is None:
            raise DeliveryUnavailable("delivery is not open")
        main, tier = amqp.queue_name(queue), pick_tier(delay)
        target = tier_queue(main, tier)
        try:
            async with asyncio.timeout(amqp.timeout):
                await channel.declare_queue(
                    target, durable=True, arguments=tier_arguments(main, tier)
                )
        except FAILURES as exc:
            raise failure(f"cannot declare {target}", exc) from exc
        await self._send(queue, message_id, target)

    async def _send(self, queue: str, message_id: str, target: str) -> None:
        """Publish ``message_id`` of ``queue`` to the RabbitMQ queue ``target``, confirmed."""
        amqp = self._amqp
        channel, conn = amqp.confirms, amqp.publisher
        if amqp.closed or channel is None or conn is None:
            raise DeliveryUnavailable("delivery is not open")
        if not conn.connected.is_set() or channel.is_closed:
            raise DeliveryUnavailable("not connected to RabbitMQ (reconnecting)")
        message = aio_pika.Message(
            json.dumps({"id": message_id, "queue": queue}, separators=(",", ":")).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            app_id="conveyor",
            timestamp=datetime.now(UTC),
            headers={"conveyor-queue": queue},
        )
        try:
            async with asyncio.timeout(amqp.timeout):
                await channel.default_exchange.publish(message, target, mandatory=True)
        except PublishError as exc:
            raise DeliveryUnavailable(f"{target} does not exist (message returned)") from exc
        except DeliveryError as exc:
            raise DeliveryUnavailable(f"RabbitMQ refused the message for {target}") from exc
        except TimeoutError as exc:
            raise DeliveryUnavailable(f"no confirm from RabbitMQ in {amqp.timeout}s") from exc
        except FAILURES as exc:
            raise failure("publish failed", exc) from exc

    async def publish_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        """Every publish on the one confirm channel at once; the confirms awaited together."""
        outcomes = await asyncio.gather(
            *(self.publish(queue, message_id) for message_id in message_ids),
            return_exceptions=True,
        )
        failed: set[str] = set()
        for message_id, outcome in zip(message_ids, outcomes, strict=True):
            if isinstance(outcome, DeliveryUnavailable):
                log.warning("publish of %s on %s failed: %s", message_id, queue, outcome)
                failed.add(message_id)
            elif isinstance(outcome, BaseException):
                raise outcome
        return failed

    async def ready_count(self, queue: str) -> int | None:
        """A passive declare's ``message_count`` (RabbitMQ counts ready messages only), on a
        channel of its own: a passive declare of a missing queue closes its channel, which
        must not be the shared confirm channel."""
        amqp = self._amqp
        conn = amqp.publisher
        if amqp.closed or conn is None or not conn.connected.is_set():
            return None
        try:
            async with asyncio.timeout(amqp.timeout), conn.channel() as channel:
                declared = await channel.declare_queue(amqp.queue_name(queue), passive=True)
                count = declared.declaration_result.message_count
        except FAILURES as exc:
            log.debug("ready count of %s unknown: %r", queue, exc)
            return None
        return int(count) if count is not None else None

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        amqp = self._amqp
        if amqp.closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            consumer = await amqp.open_consumer()
            for queue in queues:
                lane = self._lanes.get(queue)
                if lane is None:
                    channel = await consumer.channel(publisher_confirms=False)
                    lane = _Lane(channel, await self._declare(channel, queue))
                    self._lanes[queue] = lane
                await lane.channel.set_qos(prefetch_count=prefetch)
                if lane.tag is None:
                    tag = f"{amqp.connection_name('consume')}/{queue}"[:255]
                    on_message = partial(self._on_message, queue, callback)
                    lane.tag = await lane.queue.consume(on_message, consumer_tag=tag)
        except FAILURES as exc:
            raise failure("cannot start consuming", exc) from exc

    async def _on_message(
        self, queue: str, callback: DeliveryCallback, message: AbstractIncomingMessage
    ) -> None:
        acks = self._channel_acks(queue, message)
        try:
            body = json.loads(message.body)
            message_id = body["id"]
            if not isinstance(message_id, str) or not message_id:
                raise TypeError("id is not a non-empty string")
        except (ValueError, LookupError, TypeError) as exc:
            where, body = self._amqp.queue_name(queue), message.body
            log.error("dead-lettering unreadable delivery on %s: %s; body=%.200r", where, exc, body)
            with contextlib.suppress(*FAILURES):
                await message.reject(requeue=False)
            acks.settled(message.delivery_tag or 0)
            return
        count = (message.headers or {}).get("x-delivery-count")
        count = count if isinstance(count, int) else 0
        await callback(RabbitDelivered(message, acks, queue, message_id, count))

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        # The robust queue forgets a consumer before the cancel RPC, so it is not restored
        # even when the RPC fails; with the connection down there is no point waiting.
        # A lane keeps its channel: its unsettled deliveries can still be settled, and
        # ``consume`` may start it again.
        consumer, timeout = self._amqp.consumer, self._amqp.timeout
        up = consumer is not None and consumer.connected.is_set()
        only = None if queues is None else set(queues)
        lanes = {q: lane for q, lane in self._lanes.items() if only is None or q in only}
        cancels = [(q, lane.queue, lane.tag) for q, lane in lanes.items() if lane.tag]
        for lane in lanes.values():
            lane.tag = None

        async def cancel(queue: str, amqp: AbstractQueue, tag: str) -> None:
            try:
                async with asyncio.timeout(timeout if up else 0):
                    await amqp.cancel(tag)
            except FAILURES as exc:
                log.info("consumer of %s cancelled locally only (%r)", queue, exc)

        await asyncio.gather(*(cancel(*args) for args in cancels))

    def _forget_work(self) -> list[AbstractRobustChannel | None]:
        """The consumer channels to close (the caller closes them); forgets them."""
        channels: list[AbstractRobustChannel | None]
        channels = [lane.channel for lane in self._lanes.values()]
        self._lanes = {}
        self._acks = {}
        return channels
