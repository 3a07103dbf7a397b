"""What the parts of RabbitMQ delivery share: two robust connections, the confirm channel, names.

No port of its own: ``work`` (WorkQueue), ``events`` (CompletionEvents) and ``control``
(CancelSignals) reach RabbitMQ through the delivery's one :class:`RabbitChannels`, and
``broker.RabbitDelivery`` (the lifecycle) opens it and releases it.

Two connections: ``publish`` (the confirm-mode channel every publish shares, and the event
and control channels) and ``consume`` (a channel per consumed queue, and the event and control
subscriptions). Both are robust and named ``<name>-publish[<prefix>]@<host>:<pid>`` /
``<name>-consume[<prefix>]@<host>:<pid>``, the name saying which process it is
(``conveyor-gateway``, ``conveyor-consumer``, ``conveyor-serve``): they reconnect every
``reconnect_interval`` s (unless the URL sets it) and restore their channels, qos, queues
and consumers. An outage is logged once per connection (:class:`_Watch`), not per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aiormq.exceptions import (
    AuthenticationError,
    ConnectionNotAllowed,
    ProbableAuthenticationError,
)

from shared.adapters.rabbitmq.management import vhost_of
from shared.adapters.rabbitmq.quiet import quiet_first_connect
from shared.ports import DeliveryUnavailable

log = logging.getLogger(__name__)

#: What aio-pika/aiormq raise when the broker or the connection fails (includes timeouts).
FAILURES: tuple[type[BaseException], ...] = (*CONNECTION_EXCEPTIONS, TimeoutError)


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


class LoginRefused(DeliveryUnavailable):
    """RabbitMQ refused the credentials (or the vhost) of the URL: waiting cannot help."""

    transient = False


def login_refused(url: str, exc: BaseException) -> LoginRefused | None:
    """The one-line LoginRefused for a connection attempt that failed with ``exc``, when the
    broker answered it with ACCESS_REFUSED (a wrong user name or password) or NOT_ALLOWED (a
    vhost the user may not open); else None. The password is never part of the line."""
    parts = urlsplit(url)
    where = broker_address(url)
    user = unquote(parts.username) if parts.username else "guest"
    text = str(exc.args[0]) if exc.args else ""
    if isinstance(exc, ProbableAuthenticationError | AuthenticationError) or (
        "ACCESS_REFUSED" in text
    ):
        return LoginRefused(
            f"RabbitMQ at {where} refused the login for user {user!r} (check the user name "
            "and password in --broker)"
        )
    if isinstance(exc, ConnectionNotAllowed) or text.startswith("NOT_ALLOWED"):
        vhost = vhost_of(url)
        return LoginRefused(
            f"RabbitMQ at {where} refused user {user!r} access to vhost {vhost!r} (check the "
            "vhost in --broker and the user's permissions)"
        )
    return None


def failure(what: str, exc: BaseException) -> DeliveryUnavailable:
    """``what`` failed because of ``exc`` (one of :data:`FAILURES`), as DeliveryUnavailable."""
    return DeliveryUnavailable(f"{what}: {type(exc).__name__}: {exc}".rstrip(": "))


class RabbitChannels:
    """The connections and the confirm channel while open, the naming, and ``closed``.

    ``timeout`` bounds every round trip the parts make (a confirm, a declare, a close).
    """

    def __init__(
        self, url: str, *, prefix: str, name: str, timeout: float, reconnect_interval: float
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.name = name
        #: ``host:pid``, in connection, consumer tag and subscription queue names.
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        self.timeout = timeout
        self.reconnect_interval = reconnect_interval
        self.publisher: AbstractRobustConnection | None = None
        #: The confirm-mode channel of ``publisher`` that every publish shares.
        self.confirms: AbstractRobustChannel | None = None
        self.consumer: AbstractRobustConnection | None = None
        #: Set by ``close``: nothing opens again, publishes fail, events are dropped.
        self.closed = False

    def queue_name(self, queue: str) -> str:
        """The RabbitMQ queue of definition ``queue``; its dead letters go to ``+ '.dead'``."""
        return self.prefix + queue

    def connection_name(self, role: str) -> str:
        """The name shown in the management UI for this process's ``role`` connection:
        ``conveyor-gateway-publish[conveyor.]@host:pid`` (name, role, queue prefix, where)."""
        return f"{self.name}-{role}[{self.prefix}]@{self.where}"

    async def connect(self, role: str) -> AbstractRobustConnection:
        """A new robust connection named for ``role``. Raises DeliveryUnavailable naming the
        broker's address and the cause when the first attempt fails."""
        name = self.connection_name(role)
        options: dict[str, Any] = {}
        if "reconnect_interval" not in parse_qs(urlsplit(self.url).query):
            options["reconnect_interval"] = self.reconnect_interval
        try:
            with quiet_first_connect():
                conn: AbstractRobustConnection = await aio_pika.connect_robust(
                    self.url,
                    client_properties={"connection_name": name},
                    timeout=self.timeout,
                    **options,
                )
        except FAILURES as exc:
            refused = login_refused(self.url, exc)
            if refused is not None:
                raise refused from exc
            where = broker_address(self.url)
            raise DeliveryUnavailable(f"cannot reach RabbitMQ at {where} ({cause(exc)})") from exc
        watch = _Watch(name)
        conn.close_callbacks.add(watch.lost)
        conn.reconnect_callbacks.add(watch.back)
        log.info("connected to RabbitMQ as %s", name)
        return conn

    async def open_publisher(self) -> tuple[AbstractRobustConnection, AbstractRobustChannel]:
        """The ``publish`` connection and its confirm channel, opened unless open. Raises
        DeliveryUnavailable or what aio-pika raises."""
        if self.publisher is None:
            self.publisher = await self.connect("publish")
        if self.confirms is None:
            self.confirms = await self.publisher.channel(
                publisher_confirms=True, on_return_raises=True
            )
        return self.publisher, self.confirms

    async def open_consumer(self) -> AbstractRobustConnection:
        """The ``consume`` connection, connected unless it is. Raises DeliveryUnavailable."""
        if self.consumer is None:
            self.consumer = await self.connect("consume")
        return self.consumer

    async def release(self, channels: list[AbstractRobustChannel | None]) -> None:
        """Forget the connections and the confirm channel, then close ``channels`` and the
        confirm channel together, then the connections together: each close waits at most
        ``timeout``, so a broker slow to answer costs that once, not once per queue."""
        channels = [*channels, self.confirms]
        connections = [self.consumer, self.publisher]
        self.consumer, self.confirms, self.publisher = None, None, None

        async def close(item: AbstractRobustChannel | AbstractRobustConnection) -> None:
            try:
                async with asyncio.timeout(self.timeout):
                    await item.close()
            except FAILURES as exc:
                log.debug("closing %r: %r", item, exc)

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
