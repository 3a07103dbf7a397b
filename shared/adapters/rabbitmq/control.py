"""``shared.ports.CancelSignals`` on RabbitMQ: the control exchange, cancels to every consumer.

A non-durable fanout exchange ``<prefix>control``, apart from the completion events'
``<prefix>events`` so that consumers hear only control messages (never every completion).
Messages are transient ``{"op": "cancel", "queue", "id"}`` JSON, published without
confirms (best effort: the store's ``cancel_requested`` flag, seen at the holder's next
lease renewal, is the safety net). Each subscribing process binds an exclusive auto-delete
queue ``<prefix>control.<host>:<pid>.<random>`` and consumes it without acks.

:class:`ControlExchange` is the exchange; :class:`RabbitCancels` is the part of
``RabbitDelivery`` that holds one, over the delivery's connections (``channels``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from functools import partial

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from shared.adapters.rabbitmq.channels import FAILURES, RabbitChannels, failure
from shared.ports import CancelCallback, CancelSignals, DeliveryUnavailable

log = logging.getLogger(__name__)


class ControlExchange:
    """Publishes and subscribes cancel signals on one fanout exchange."""

    def __init__(self, name: str, where: str, timeout: float) -> None:
        """``name``: the exchange; ``where``: ``host:pid`` for queue names."""
        self.name = name
        self._where = where
        self._timeout = timeout
        self._out: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._in: AbstractRobustChannel | None = None

    async def _declare(self, channel: AbstractRobustChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.name, aio_pika.ExchangeType.FANOUT, durable=False
        )

    async def open(self, publisher: AbstractRobustConnection) -> None:
        """Declare the exchange on a channel of ``publisher``'s (idempotent). Raises what
        aio-pika raises."""
        if self._out is None:
            self._out = await publisher.channel(publisher_confirms=False)
            self._exchange = await self._declare(self._out)

    async def publish_cancel(self, queue: str, message_id: str) -> None:
        """Send one cancel signal; never raises (logged at debug)."""
        exchange, channel = self._exchange, self._out
        if exchange is None or channel is None or channel.is_closed:
            log.debug("cancel signal for %s not sent: control channel not open", message_id)
            return
        body = {"op": "cancel", "queue": queue, "id": message_id}
        message = aio_pika.Message(json.dumps(body).encode(), app_id="conveyor")
        try:
            async with asyncio.timeout(self._timeout):
                await exchange.publish(message, "")
        except Exception as exc:  # best effort: the store flag is the safety net
            log.debug("cancel signal for %s not sent: %r", message_id, exc)

    async def subscribe(self, consumer: AbstractRobustConnection, callback: CancelCallback) -> None:
        """Bind a queue of this process's and call ``callback`` per signal. Raises what
        aio-pika raises."""
        if self._in is None:
            self._in = await consumer.channel(publisher_confirms=False)
        exchange = await self._declare(self._in)
        name = f"{self.name}.{self._where}.{os.urandom(4).hex()}"
        amqp = await self._in.declare_queue(name, exclusive=True, auto_delete=True)
        await amqp.bind(exchange)
        await amqp.consume(partial(_on_signal, callback), no_ack=True)

    def channels(self) -> list[AbstractRobustChannel | None]:
        """The channels to close (the caller closes them); forgets them."""
        out, self._out, self._in, self._exchange = [self._in, self._out], None, None, None
        return out


async def _on_signal(callback: CancelCallback, message: AbstractIncomingMessage) -> None:
    try:
        body = json.loads(message.body)
        if body.get("op") == "cancel":
            callback(str(body["queue"]), str(body["id"]))
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable control message: %s; body=%.200r", exc, message.body)


class RabbitCancels(CancelSignals):
    """The ``CancelSignals`` part of ``RabbitDelivery``; uses its :class:`RabbitChannels`."""

    _amqp: RabbitChannels
    _control: ControlExchange

    def _init_cancels(self) -> None:
        amqp = self._amqp
        self._control = ControlExchange(amqp.prefix + "control", amqp.where, amqp.timeout)

    @property
    def control_exchange(self) -> str:
        """The fanout exchange cancel signals go through."""
        return self._control.name

    async def publish_cancel(self, queue: str, message_id: str) -> None:
        if self._amqp.closed:
            return
        await self._control.publish_cancel(queue, message_id)

    async def subscribe_cancels(self, callback: CancelCallback) -> None:
        if self._amqp.closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            await self._control.subscribe(await self._amqp.open_consumer(), callback)
        except FAILURES as exc:
            raise failure("cannot subscribe to cancel signals", exc) from exc
