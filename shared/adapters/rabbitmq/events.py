"""``shared.ports.CompletionEvents`` on RabbitMQ: the fanout exchange ``<prefix>events``.

The exchange is non-durable and declared at open. Events are transient ``{"queue", "id"}``
messages (completions; a change that is not final adds ``"final": false``; several published
together are ``{"events": [...]}``, see ``shared.adapters.rabbitmq.event_batch``) published
without confirms on a channel of their own of the ``publish`` connection (best effort: a
failure is logged at debug and dropped). Each subscribing process binds one exclusive
auto-delete queue ``<prefix>events.<host>:<pid>.<random>`` on the ``consume`` connection and
consumes it without acks, handing each event to its completion or its change subscribers.
A process's own events come back through the fanout and are dropped (their ``"from"`` is this
adapter's origin): the Announcer woke its waiters already.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from shared.adapters.rabbitmq.channels import FAILURES, RabbitChannels, failure
from shared.adapters.rabbitmq.event_batch import EventBatch, decode_from, event
from shared.domain.ids import random_hex
from shared.domain.message import MessageRecord
from shared.domain.record_wire import record_from_text, record_to_text
from shared.ports import (
    CARRIED_RECORD_MAX_BYTES,
    CarriedRecord,
    CompletionCallback,
    CompletionEvents,
    DeliveryUnavailable,
    EventCallback,
)

log = logging.getLogger(__name__)


class RabbitEvents(CompletionEvents):
    """The ``CompletionEvents`` part of ``RabbitDelivery``; uses its :class:`RabbitChannels`."""

    #: Events cross the broker: this process's own are dropped when they come back.
    hears_itself = False
    _amqp: RabbitChannels
    _event_out: AbstractRobustChannel | None
    _events: AbstractExchange | None
    _event_in: AbstractRobustChannel | None
    #: Subscribers to completions and to changes (one AMQP queue serves both lists).
    _completions: list[CompletionCallback]
    _changes: list[EventCallback]
    #: This adapter's name on the events it publishes (``"from"``).
    _origin: str
    _event_batch: EventBatch

    def _init_events(self) -> None:
        self._event_out = self._events = self._event_in = None
        self._completions, self._changes = [], []
        self._origin = random_hex()
        self._event_batch = EventBatch(self._send_events, origin=self._origin)

    @property
    def events_exchange(self) -> str:
        """The fanout exchange completion events go through."""
        return self._amqp.prefix + "events"

    async def _declare_events(self, channel: AbstractRobustChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.FANOUT, durable=False
        )

    async def _open_events(self, publisher: AbstractRobustConnection) -> None:
        """Declare the exchange on a channel of ``publisher``'s (idempotent). Raises what
        aio-pika raises."""
        if self._event_out is None:
            self._event_out = await publisher.channel(publisher_confirms=False)
            self._events = await self._declare_events(self._event_out)

    async def publish_event(
        self,
        queue: str,
        message_id: str,
        *,
        final: bool = True,
        record: MessageRecord | None = None,
    ) -> None:
        amqp, exchange = self._amqp, self._events
        conn = amqp.publisher
        if amqp.closed or conn is None or exchange is None or not conn.connected.is_set():
            return
        text = None if record is None else record_to_text(record)
        if (
            text is not None
            and len(text.encode("utf-8", "surrogatepass")) > CARRIED_RECORD_MAX_BYTES
        ):
            text = None  # too large to carry: waiters read the store
        # Batched (``shared.adapters.rabbitmq.event_batch``): returns at once, published within a
        # loop turn together with the other events of this turn.
        self._event_batch.add(event(queue, message_id, final=final, record=text))

    async def _send_events(self, body: bytes) -> None:
        """Publish one (batched) events message; raises what the publish raises."""
        exchange = self._events
        if exchange is None:
            return
        async with asyncio.timeout(self._amqp.timeout):
            # Not mandatory: with no gateway subscribed the event goes nowhere, quietly
            # (a returned message would be logged at ERROR by aiormq for each one).
            await exchange.publish(aio_pika.Message(body, app_id="conveyor"), "", mandatory=False)

    async def subscribe_events(self, callback: EventCallback) -> None:
        await self.subscribe_completions(lambda queue, mid, _carried: callback(queue, mid))

    async def subscribe_completions(self, callback: CompletionCallback) -> None:
        await self._subscribe(self._completions, callback)

    async def subscribe_changes(self, callback: EventCallback) -> None:
        await self._subscribe(self._changes, callback)

    async def _subscribe(self, into: list[Any], callback: Any) -> None:
        amqp = self._amqp
        if amqp.closed:
            raise DeliveryUnavailable("delivery is closed")
        listening = bool(self._completions or self._changes)
        into.append(callback)
        if listening:
            return
        try:
            consumer = await amqp.open_consumer()
            if self._event_in is None:
                self._event_in = await consumer.channel(publisher_confirms=False)
            exchange = await self._declare_events(self._event_in)
            name = f"{self.events_exchange}.{amqp.where}.{os.urandom(4).hex()}"
            queue = await self._event_in.declare_queue(name, exclusive=True, auto_delete=True)
            await queue.bind(exchange)
            await queue.consume(self._on_event, no_ack=True)
        except FAILURES as exc:
            into.remove(callback)
            raise failure("cannot subscribe to completion events", exc) from exc

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        try:
            origin, events = decode_from(message.body)
            if origin == self._origin:
                return
            for queue, message_id, final, text in events:
                if not final:
                    for watcher in self._changes:
                        watcher(queue, message_id)
                    continue
                carried = None if text is None else _carried(text)
                for callback in self._completions:
                    callback(queue, message_id, carried)
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            log.warning("ignoring unreadable completion event: %s; body=%.200r", exc, message.body)

    async def _drain_events(self) -> None:
        """Publish the events still batched (at close), waiting up to the timeout."""
        await self._event_batch.drain(self._amqp.timeout)

    def _forget_events(self) -> list[AbstractRobustChannel | None]:
        """The event channels to close (the caller closes them); forgets them."""
        channels, self._event_in, self._event_out = [self._event_in, self._event_out], None, None
        self._events = None
        return channels


def _carried(text: str) -> CarriedRecord:
    """The record of a completion's ``"record"`` text, decoded when first asked for (only a
    process waiting on the message asks); None if it cannot be read."""

    def decode() -> MessageRecord | None:
        try:
            return record_from_text(text)
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            log.warning("ignoring an unreadable carried record: %s", exc)
            return None

    return decode
