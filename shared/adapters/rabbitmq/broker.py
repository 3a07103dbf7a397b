"""RabbitMQ delivery (aio-pika): :class:`RabbitDelivery`, the lifecycle (open, ping, close).

:class:`RabbitDelivery` is the delivery ports (``shared.ports.WorkQueue``, ``CompletionEvents``,
``CancelSignals``), composed of one part per port over one
``channels.RabbitChannels`` (two robust connections, ``publish`` and ``consume``, and the
confirm channel): ``work`` (WorkQueue: a quorum queue per definition, confirmed publishes,
delay tiers, consumers), ``events`` (CompletionEvents: the fanout ``<prefix>events``) and
``control`` (CancelSignals: the fanout ``<prefix>control``).

:meth:`RabbitDelivery.open` first binds the queue prefix to the store (``identity``: the
marker queue ``<prefix>_identity``; refused, with nothing else declared, when the prefix is
bound to another store), then declares, idempotently and in every process, each definition's
queues and both exchanges. :meth:`RabbitDelivery.close` publishes the events still batched,
then closes every channel, then both connections; unsettled deliveries return to their queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from shared.adapters.rabbitmq.channels import FAILURES, RabbitChannels, failure
from shared.adapters.rabbitmq.control import RabbitCancels
from shared.adapters.rabbitmq.events import RabbitEvents
from shared.adapters.rabbitmq.identity import PrefixBound, bind_prefix
from shared.adapters.rabbitmq.work import RabbitWork
from shared.ports import DeliveryUnavailable


class RabbitDelivery(RabbitWork, RabbitEvents, RabbitCancels):
    """:class:`shared.ports.WorkQueue`, :class:`shared.ports.CompletionEvents` and
    :class:`shared.ports.CancelSignals` on RabbitMQ (one connection pair for all): the
    lifecycle here, each port in its part (the parts share only ``self._amqp``)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "conveyor.",
        delivery_limit: int = 5,
        name: str = "conveyor",
        publish_timeout: float = 5.0,
        reconnect_interval: float = 2.0,
        store_identity: str | None = None,
    ) -> None:
        """``store_identity``: the store's (``StoreLifecycle.identity``), to bind the prefix
        to at :meth:`open`; None binds nothing (a tool, a test)."""
        self._store_identity = store_identity
        self._amqp = RabbitChannels(
            url,
            prefix=prefix,
            name=name,
            timeout=publish_timeout,
            reconnect_interval=reconnect_interval,
        )
        self._init_work(delivery_limit)
        self._init_events()
        self._init_cancels()

    def connection_name(self, role: str) -> str:
        """The name shown in the management UI for this process's ``role`` connection."""
        return self._amqp.connection_name(role)

    async def open(self, queues: Sequence[str]) -> None:
        if self._amqp.closed:
            raise DeliveryUnavailable("delivery is closed")
        try:
            publisher, confirms = await self._amqp.open_publisher()
            if self._store_identity is not None:
                amqp = self._amqp
                await bind_prefix(publisher, amqp.prefix, self._store_identity, amqp.timeout)
            for queue in queues:
                await self._declare(confirms, queue)
            await self._open_events(publisher)
            await self._control.open(publisher)
        except PrefixBound:
            await self._teardown()
            raise
        except FAILURES as exc:
            await self._teardown()
            raise failure("cannot open RabbitMQ delivery", exc) from exc

    async def ping(self) -> None:
        amqp = self._amqp
        channel, conn = amqp.confirms, amqp.publisher
        if amqp.closed or channel is None or conn is None:
            raise DeliveryUnavailable("delivery is not open")
        for connection in (conn, amqp.consumer):
            if connection is not None and not connection.connected.is_set():
                raise DeliveryUnavailable("not connected to RabbitMQ (reconnecting)")
        try:
            async with asyncio.timeout(amqp.timeout):
                raw = await channel.get_underlay_channel()
                await raw.basic_qos(prefetch_count=0)  # a round trip; this channel never consumes
        except FAILURES as exc:
            raise failure("RabbitMQ does not answer", exc) from exc

    async def close(self) -> None:
        self._amqp.closed = True
        await self._drain_events()  # the last completions still go out
        await self._teardown()

    async def _teardown(self) -> None:
        """Close consumer channels, then connections; unsettled deliveries return."""
        channels = [*self._forget_work(), *self._forget_events(), *self._control.channels()]
        await self._amqp.release(channels)
