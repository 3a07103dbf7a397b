"""RabbitMQ delivery (aio-pika): :class:`shared.ports.Delivery` on quorum queues.

Topology, declared idempotently by :meth:`RabbitDelivery.open` in every process, for each
queue definition ``name`` (no exchange: publishing and dead-lettering use the default one):

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

Completion events (``publish_event``/``subscribe_events``): a non-durable fanout exchange
``<prefix>events`` declared by :meth:`RabbitDelivery.open`; events are transient
``{"queue", "id"}`` messages (completions; a change that is not final adds
``"final": false``; several published together are ``{"events": [...]}``, see
``shared.adapters.rabbitmq.event_batch``) published without confirms on a channel of their own (best
effort: a failure is logged at debug and dropped). Each subscribing process binds one exclusive
auto-delete queue ``<prefix>events.<host>.<pid>.<random>`` and consumes it without acks,
handing each event to its completion or its change subscribers.

Cancel signals (``publish_cancel``/``subscribe_cancels``): the fanout exchange
``<prefix>control`` (``shared.adapters.rabbitmq.control``), declared by :meth:`RabbitDelivery.open`.

Publishing: one confirm-mode channel shared by all publishes; each writes its frames and
awaits its own confirm, so concurrent publishes pipeline. ``publish`` returns once confirmed
and raises ``DeliveryUnavailable`` on a nack, a return, a lost connection or no confirm within
``publish_timeout`` s; while disconnected it fails at once.

Consuming: a second connection, one channel per queue with ``basic.qos(prefetch)`` (a slow
queue never starves another), manual acks. Both connections are robust and named
``<name>-publish@<host>:<pid>`` / ``<name>-consume@<host>:<pid>``: they reconnect every
``reconnect_interval`` s and restore channels, qos, queues and consumers. A delivery from
before a reconnect cannot be settled (``DeliveryUnavailable``); the broker redelivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from shared.adapters.rabbitmq.control import ControlExchange
from shared.adapters.rabbitmq.delays import pick_tier, tier_arguments, tier_queue
from shared.adapters.rabbitmq.event_batch import EventBatch, decode_from, event
from shared.adapters.rabbitmq.quiet import quiet_first_connect
from shared.domain.ids import random_hex
from shared.ports import CancelCallback, DeliveryCallback, DeliveryUnavailable, EventCallback

log = logging.getLogger(__name__)

#: What aio-pika/aiormq raise when the broker or the connection fails (includes timeouts).
_FAILURES: tuple[type[BaseException], ...] = (*CONNECTION_EXCEPTIONS, TimeoutError)


def broker_address(url: str) -> str:
    """``host:port`` of an AMQP URL (the default port of its scheme when unset)."""
    parts = urlsplit(url)
    default = 5671 if parts.scheme == "amqps" else 5672
    return f"{parts.hostname or 'localhost'}:{parts.port or default}"


def cause(exc: BaseException) -> str:
    """Why a connection attempt failed, in words: ``Connection refused`` rather than
    ``AMQPConnectionError: (111, "Connect call failed ('127.0.0.1', 1)")``."""
    code = exc.args[0] if exc.args else None
    if isinstance(code, int) and not isinstance(code, bool):
        if code > 0:
            return os.strerror(code)
        if len(exc.args) > 1:  # a resolver error: (-2, 'Name or service not known')
            return str(exc.args[1])
    if isinstance(exc, TimeoutError):
        return "no answer within the connect timeout"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _fail(what: str, exc: BaseException) -> DeliveryUnavailable:
    return DeliveryUnavailable(f"{what}: {type(exc).__name__}: {exc}".rstrip(": "))


class RabbitDelivered:
    """One RabbitMQ delivery; settle once with :meth:`ack` or :meth:`requeue`."""

    __slots__ = ("_message", "_settled", "delivery_count", "message_id", "queue")

    def __init__(
        self, message: AbstractIncomingMessage, queue: str, message_id: str, count: int
    ) -> None:
        self._message = message
        self._settled = False
        self.queue = queue
        self.message_id = message_id
        self.delivery_count = count

    async def ack(self) -> None:
        await self._settle("ack", self._message.ack)

    async def requeue(self) -> None:
        await self._settle("requeue", partial(self._message.nack, requeue=True))

    async def _settle(self, what: str, send: Callable[[], Awaitable[None]]) -> None:
        if self._settled:
            raise RuntimeError(f"delivery of {self.message_id} settled twice")
        self._settled = True
        try:
            await send()
        except _FAILURES as exc:
            raise _fail(f"{what} not sent", exc) from exc


@dataclass
class _Lane:
    """The consumer side of one queue: its channel, queue object and consumer tag."""

    channel: AbstractRobustChannel
    queue: AbstractQueue
    tag: str | None = None


class RabbitDelivery:
    """:class:`shared.ports.WorkQueue`, :class:`shared.ports.CompletionEvents` and
    :class:`shared.ports.CancelSignals` on RabbitMQ (one connection pair for all); see the
    module docstring."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "conveyor.",
        delivery_limit: int = 5,
        name: str = "conveyor",
        publish_timeout: float = 5.0,
        reconnect_interval: float = 2.0,
    ) -> None:
        self._url = url
        #: Published messages live in durable quorum queues, beyond this process.
        self.survives_restart = True
        #: Events cross the broker: this process's own are dropped when they come back.
        self.hears_itself = False
        self._prefix = prefix
        self._delivery_limit = delivery_limit
        self._name = name
        self._where = f"{socket.gethostname()}:{os.getpid()}"
        self._timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._publisher: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._consumer: AbstractRobustConnection | None = None
        self._lanes: dict[str, _Lane] = {}
        self._closed = False
        self._event_out: AbstractRobustChannel | None = None
        self._events: AbstractExchange | None = None
        self._event_in: AbstractRobustChannel | None = None
        #: Subscribers to completions and to changes (one AMQP queue serves both lists).
        self._subscribers: dict[bool, list[EventCallback]] = {True: [], False: []}
        self._control = ControlExchange(prefix + "control", self._where, publish_timeout)
        #: This adapter's name on the events it publishes: its own come back through the
        #: fanout and are dropped (the Announcer woke this process's waiters already).
        self._origin = random_hex()
        self._event_batch = EventBatch(self._send_events, origin=self._origin)

    def queue_name(self, queue: str) -> str:
        """The RabbitMQ queue of definition ``queue``; its dead letters go to ``+ '.dead'``."""
        return self._prefix + queue

    def connection_name(self, role: str) -> str:
        """The name shown in the management UI for this process's ``role`` connection."""
        return f"{self._name}-{role}@{self._where}"

    async def _connect(self, role: str) -> AbstractRobustConnection:
        name = self.connection_name(role)
        options: dict[str, Any] = {}
        if "reconnect_interval" not in parse_qs(urlsplit(self._url).query):
            options["reconnect_interval"] = self._reconnect_interval
        try:
            with quiet_first_connect():
                conn: AbstractRobustConnection = await aio_pika.connect_robust(
                    self._url,
                    client_properties={"connection_name": name},
                    timeout=self._timeout,
                    **options,
                )
        except _FAILURES as exc:
            where = broker_address(self._url)
            raise DeliveryUnavailable(f"cannot reach RabbitMQ at {where} ({cause(exc)})") from exc
        watch = _Watch(name)
        conn.close_callbacks.add(watch.lost)
        conn.reconnect_callbacks.add(watch.back)
        log.info("connected to RabbitMQ as %s", name)
        return conn

    async def _declare(self, channel: AbstractRobustChannel, queue: str) -> AbstractQueue:
        name = self.queue_name(queue)
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

    async def open(self, queues: Sequence[str]) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            if self._publisher is None:
                self._publisher = await self._connect("publish")
            if self._channel is None:
                self._channel = await self._publisher.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            for queue in queues:
                await self._declare(self._channel, queue)
            if self._event_out is None:
                self._event_out = await self._publisher.channel(publisher_confirms=False)
                self._events = await self._declare_events(self._event_out)
            await self._control.open(self._publisher)
        except _FAILURES as exc:
            await self._teardown()
            raise _fail("cannot open RabbitMQ delivery", exc) from exc

    async def publish(self, queue: str, message_id: str) -> None:
        await self._send(queue, message_id, self.queue_name(queue))

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        """Publish to the delay tier for ``delay`` (see ``shared.adapters.rabbitmq.delays``)."""
        channel = self._channel
        if self._closed or channel is None:
            raise DeliveryUnavailable("delivery is not open")
        main, tier = self.queue_name(queue), pick_tier(delay)
        target = tier_queue(main, tier)
        try:
            async with asyncio.timeout(self._timeout):
                await channel.declare_queue(
                    target, durable=True, arguments=tier_arguments(main, tier)
                )
        except _FAILURES as exc:
            raise _fail(f"cannot declare {target}", exc) from exc
        await self._send(queue, message_id, target)

    async def _send(self, queue: str, message_id: str, target: str) -> None:
        """Publish ``message_id`` of ``queue`` to the RabbitMQ queue ``target``, confirmed."""
        channel, conn = self._channel, self._publisher
        if self._closed or channel is None or conn is None:
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
            async with asyncio.timeout(self._timeout):
                await channel.default_exchange.publish(message, target, mandatory=True)
        except PublishError as exc:
            raise DeliveryUnavailable(f"{target} does not exist (message returned)") from exc
        except DeliveryError as exc:
            raise DeliveryUnavailable(f"RabbitMQ refused the message for {target}") from exc
        except TimeoutError as exc:
            raise DeliveryUnavailable(f"no confirm from RabbitMQ in {self._timeout}s") from exc
        except _FAILURES as exc:
            raise _fail("publish failed", exc) from exc

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

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            if self._consumer is None:
                self._consumer = await self._connect("consume")
            for queue in queues:
                lane = self._lanes.get(queue)
                if lane is None:
                    channel = await self._consumer.channel(publisher_confirms=False)
                    lane = _Lane(channel, await self._declare(channel, queue))
                    self._lanes[queue] = lane
                await lane.channel.set_qos(prefetch_count=prefetch)
                if lane.tag is None:
                    tag = f"{self.connection_name('consume')}/{queue}"[:255]
                    on_message = partial(self._on_message, queue, callback)
                    lane.tag = await lane.queue.consume(on_message, consumer_tag=tag)
        except _FAILURES as exc:
            raise _fail("cannot start consuming", exc) from exc

    async def _on_message(
        self, queue: str, callback: DeliveryCallback, message: AbstractIncomingMessage
    ) -> None:
        try:
            body = json.loads(message.body)
            message_id = body["id"]
            if not isinstance(message_id, str) or not message_id:
                raise TypeError("id is not a non-empty string")
        except (ValueError, LookupError, TypeError) as exc:
            where, body = self.queue_name(queue), message.body
            log.error("dead-lettering unreadable delivery on %s: %s; body=%.200r", where, exc, body)
            with contextlib.suppress(*_FAILURES):
                await message.reject(requeue=False)
            return
        count = (message.headers or {}).get("x-delivery-count")
        await callback(
            RabbitDelivered(message, queue, message_id, count if isinstance(count, int) else 0)
        )

    @property
    def events_exchange(self) -> str:
        """The fanout exchange completion events go through."""
        return self._prefix + "events"

    async def _declare_events(self, channel: AbstractRobustChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.FANOUT, durable=False
        )

    async def publish_event(self, queue: str, message_id: str, *, final: bool = True) -> None:
        conn, exchange = self._publisher, self._events
        if self._closed or conn is None or exchange is None or not conn.connected.is_set():
            return
        # Batched (``shared.adapters.rabbitmq.event_batch``): returns at once, published within a
        # loop turn together with the other events of this turn.
        self._event_batch.add(event(queue, message_id, final=final))

    async def _send_events(self, body: bytes) -> None:
        """Publish one (batched) events message; raises what the publish raises."""
        exchange = self._events
        if exchange is None:
            return
        async with asyncio.timeout(self._timeout):
            # Not mandatory: with no gateway subscribed the event goes nowhere, quietly
            # (a returned message would be logged at ERROR by aiormq for each one).
            await exchange.publish(aio_pika.Message(body, app_id="conveyor"), "", mandatory=False)

    async def subscribe_events(self, callback: EventCallback) -> None:
        await self._subscribe(True, callback)

    async def subscribe_changes(self, callback: EventCallback) -> None:
        await self._subscribe(False, callback)

    async def _subscribe(self, final: bool, callback: EventCallback) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        listening = any(self._subscribers.values())
        self._subscribers[final].append(callback)
        if listening:
            return
        try:
            if self._consumer is None:
                self._consumer = await self._connect("consume")
            if self._event_in is None:
                self._event_in = await self._consumer.channel(publisher_confirms=False)
            exchange = await self._declare_events(self._event_in)
            name = f"{self.events_exchange}.{self._where}.{os.urandom(4).hex()}"
            amqp = await self._event_in.declare_queue(name, exclusive=True, auto_delete=True)
            await amqp.bind(exchange)
            await amqp.consume(self._on_event, no_ack=True)
        except _FAILURES as exc:
            self._subscribers[final].remove(callback)
            raise _fail("cannot subscribe to completion events", exc) from exc

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        try:
            origin, events = decode_from(message.body)
            if origin == self._origin:
                return
            for queue, message_id, final in events:
                for callback in self._subscribers[final]:
                    callback(queue, message_id)
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            log.warning("ignoring unreadable completion event: %s; body=%.200r", exc, message.body)

    @property
    def control_exchange(self) -> str:
        """The fanout exchange cancel signals go through."""
        return self._control.name

    async def publish_cancel(self, queue: str, message_id: str) -> None:
        if self._closed:
            return
        await self._control.publish_cancel(queue, message_id)

    async def subscribe_cancels(self, callback: CancelCallback) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            if self._consumer is None:
                self._consumer = await self._connect("consume")
            await self._control.subscribe(self._consumer, callback)
        except _FAILURES as exc:
            raise _fail("cannot subscribe to cancel signals", exc) from exc

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        # The robust queue forgets a consumer before the cancel RPC, so it is not restored
        # even when the RPC fails; with the connection down there is no point waiting.
        # A lane keeps its channel: its unsettled deliveries can still be settled, and
        # ``consume`` may start it again.
        up = self._consumer is not None and self._consumer.connected.is_set()
        only = None if queues is None else set(queues)
        lanes = {q: lane for q, lane in self._lanes.items() if only is None or q in only}
        cancels = [(q, lane.queue, lane.tag) for q, lane in lanes.items() if lane.tag]
        for lane in lanes.values():
            lane.tag = None

        async def cancel(queue: str, amqp: AbstractQueue, tag: str) -> None:
            try:
                async with asyncio.timeout(self._timeout if up else 0):
                    await amqp.cancel(tag)
            except _FAILURES as exc:
                log.info("consumer of %s cancelled locally only (%r)", queue, exc)

        await asyncio.gather(*(cancel(*args) for args in cancels))

    async def ping(self) -> None:
        channel, conn = self._channel, self._publisher
        if self._closed or channel is None or conn is None:
            raise DeliveryUnavailable("delivery is not open")
        for connection in (conn, self._consumer):
            if connection is not None and not connection.connected.is_set():
                raise DeliveryUnavailable("not connected to RabbitMQ (reconnecting)")
        try:
            async with asyncio.timeout(self._timeout):
                raw = await channel.get_underlay_channel()
                await raw.basic_qos(prefetch_count=0)  # a round trip; this channel never consumes
        except _FAILURES as exc:
            raise _fail("RabbitMQ does not answer", exc) from exc

    async def close(self) -> None:
        self._closed = True
        await self._event_batch.drain(self._timeout)  # the last completions still go out
        await self._teardown()

    async def _teardown(self) -> None:
        """Close consumer channels, then connections; unsettled deliveries return."""
        channels: list[AbstractRobustChannel | None]
        channels = [*(lane.channel for lane in self._lanes.values())]
        channels += [self._event_in, self._event_out, *self._control.channels(), self._channel]
        connections = [self._consumer, self._publisher]
        self._lanes, self._consumer, self._channel, self._publisher = {}, None, None, None
        self._event_in = self._event_out = self._events = None

        async def close(item: AbstractRobustChannel | AbstractRobustConnection) -> None:
            try:
                async with asyncio.timeout(self._timeout):
                    await item.close()
            except _FAILURES as exc:
                log.debug("closing %r: %r", item, exc)

        # Channels together, then connections together: each close waits at most the
        # publish timeout, so a broker slow to answer costs that once, not once per queue.
        await asyncio.gather(*(close(item) for item in channels if item is not None))
        await asyncio.gather(*(close(item) for item in connections if item is not None))


class _Watch:
    """Logs a connection's outage once (aio-pika logs every reconnection attempt)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True

    def lost(self, _sender: object, exc: BaseException | None) -> None:
        if self.up and exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.up = False
            log.warning("RabbitMQ connection %s lost (%s); reconnecting", self.name, exc)

    def back(self, _sender: object) -> None:
        self.up = True
        log.warning("RabbitMQ connection %s re-established", self.name)
