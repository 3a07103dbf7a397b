"""``shared.ports.CancelSignals`` on RabbitMQ: the control exchange, cancels to every consumer.

A non-durable fanout exchange ``<prefix>control``, apart from the completion events'
``<prefix>events`` so that consumers hear only control messages (never every completion).
Messages are transient ``{"op": "cancel", "queue", "id"}`` and ``{"op": "pause", "queue"}``
(a queue was paused or resumed) JSON, published without confirms (best effort: the store's
``cancel_requested`` flag, seen at the holder's next lease renewal, and each process's read
of the pauses every second are the safety nets). Each subscription binds an exclusive
auto-delete queue ``<prefix>control.<host>:<pid>.<random>``, consumes it without acks and
hears the one op it subscribed to.

:class:`ControlExchange` is the exchange; :class:`RabbitCancels` is the part of
``RabbitDelivery`` that holds one, over the delivery's connections (``channels``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from functools import partial

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from shared.adapters.rabbitmq.channels import FAILURES, RabbitChannels, failure
from shared.ports import CancelCallback, CancelSignals, DeliveryUnavailable, PauseCallback

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

    async def publish(self, body: dict[str, str]) -> None:
        """Send one signal; never raises (logged at debug)."""
        exchange, channel = self._exchange, self._out
        if exchange is None or channel is None or channel.is_closed:
            log.debug("control signal %s not sent: control channel not open", body)
            return
        message = aio_pika.Message(json.dumps(body).encode(), app_id="conveyor")
        try:
            async with asyncio.timeout(self._timeout):
                await exchange.publish(message, "")
        except Exception as exc:  # best effort: the store is the safety net
            log.debug("control signal %s not sent: %r", body, exc)

    async def subscribe(
        self, consumer: AbstractRobustConnection, op: str, callback: Callable[..., None]
    ) -> None:
        """Bind a queue of this process's and call ``callback`` per signal of ``op``
        (``cancel``: ``(queue, id)``; ``pause``: ``(queue)``). Raises what aio-pika raises."""
        if self._in is None:
            self._in = await consumer.channel(publisher_confirms=False)
        exchange = await self._declare(self._in)
        name = f"{self.name}.{self._where}.{os.urandom(4).hex()}"
        amqp = await self._in.declare_queue(name, exclusive=True, auto_delete=True)
        await amqp.bind(exchange)
        await amqp.consume(partial(_on_signal, op, callback), no_ack=True)

    def channels(self) -> list[AbstractRobustChannel | None]:
        """The channels to close (the caller closes them); forgets them."""
        out, self._out, self._in, self._exchange = [self._in, self._out], None, None, None
        return out


async def _on_signal(
    op: str, callback: Callable[..., None], message: AbstractIncomingMessage
) -> None:
    try:
        body = json.loads(message.body)
        if body.get("op") != op:
            return
        if op == "cancel":
            callback(str(body["queue"]), str(body["id"]))
        else:
            callback(str(body["queue"]))
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
        await self._control.publish({"op": "cancel", "queue": queue, "id": message_id})

    async def subscribe_cancels(self, callback: CancelCallback) -> None:
        await self._subscribe_control("cancel", callback)

    async def publish_pause_change(self, queue: str) -> None:
        if self._amqp.closed:
            return
        await self._control.publish({"op": "pause", "queue": queue})

    async def subscribe_pause_changes(self, callback: PauseCallback) -> None:
        await self._subscribe_control("pause", callback)

    async def _subscribe_control(self, op: str, callback: Callable[..., None]) -> None:
        if self._amqp.closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            await self._control.subscribe(await self._amqp.open_consumer(), op, callback)
        except FAILURES as exc:
            raise failure(f"cannot subscribe to {op} signals", exc) from exc
