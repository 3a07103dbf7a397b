"""A queue prefix bound to one store: the marker queue ``<prefix>_identity``.

Two deployments with different stores on one broker and one ``--queue-prefix`` would take each
other's deliveries: a consumer finds no record for the other's message, acks it, and that
message stays ``PENDING`` for good. So the first process to open delivery binds the prefix to
its store's identity (``shared.ports.StoreLifecycle.identity``), and a process of another store
refuses to start (:class:`PrefixBound`, not transient: waiting cannot fix it).

The binding is a durable classic queue ``<prefix>_identity`` (a definition's name never starts
with ``_``, so it cannot clash with a queue's) declared with the store's id in its
``x-dead-letter-exchange`` argument. RabbitMQ compares the arguments it knows when a queue is
declared again and fails with 406 PRECONDITION_FAILED when they differ, which is the check,
atomic on the broker (of two stores starting at once exactly one wins). An unknown argument
(``x-conveyor-store``) would not do: RabbitMQ 3.10.8 accepts a redeclare that changes one,
and one that leaves it out (measured). The dead-letter exchange named is never declared and
nothing publishes to or consumes the queue. RabbitMQ 4.x compares ``x-dead-letter-exchange``
the same way (its ``relaxed_checks_on_redeclaration`` option concerns only a quorum queue
redeclared as classic) and keeps classic queues, so nothing changes there; were a version to
stop comparing it, the check would pass silently (tests/process/test_queue_prefix_binding.py
would fail).

The marker is declared on a channel of its own, closed right away: a robust channel would
declare it again after every reconnect, and a reconnect must never be refused. Releasing the
prefix (:func:`release_prefix`, ``conveyor release-prefix``) deletes the marker; the next
process binds it to its own store.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from shared.adapters.rabbitmq.channels import FAILURES, broker_address, cause, failure
from shared.adapters.rabbitmq.quiet import quiet_first_connect
from shared.ports import DeliveryUnavailable

#: The marker's name after the prefix.
MARKER = "_identity"
#: What the store id is prefixed with in the marker's ``x-dead-letter-exchange``.
STORE_TAG = "conveyor-store."
#: The current value in a 406 reply: ``... received 'X' but current is 'conveyor-store.ID'``.
_CURRENT = re.compile(r"current is (?:the value )?'" + re.escape(STORE_TAG) + r"([0-9a-f]+)'")


class PrefixBound(DeliveryUnavailable):
    """The queue prefix is bound to another store; the message is one line for the operator."""

    transient = False


def marker_queue(prefix: str) -> str:
    """The marker queue of ``prefix``."""
    return prefix + MARKER


def marker_arguments(store_id: str) -> dict[str, str]:
    """The marker's queue arguments for the store ``store_id``."""
    return {"x-queue-type": "classic", "x-dead-letter-exchange": STORE_TAG + store_id}


async def bind_prefix(
    connection: AbstractRobustConnection, prefix: str, store_id: str, seconds: float
) -> None:
    """Bind ``prefix`` to ``store_id`` (declare the marker), or find it bound to it already.

    Raises PrefixBound when it is bound to another store, and what aio-pika raises otherwise
    (also when the broker does not answer within ``seconds``).
    """
    channel = await connection.channel(publisher_confirms=False)
    try:
        async with asyncio.timeout(seconds):
            await channel.declare_queue(
                marker_queue(prefix), durable=True, arguments=marker_arguments(store_id)
            )
    except ChannelPreconditionFailed as exc:
        raise PrefixBound(refusal(prefix, store_id, bound_to(str(exc)))) from None
    finally:
        with contextlib.suppress(*FAILURES):
            await channel.close()


def bound_to(precondition_failed: str) -> str | None:
    """The store id a 406 reply's text says the marker holds, if it says."""
    found = _CURRENT.search(precondition_failed)
    return found.group(1) if found else None


def refusal(prefix: str, store_id: str, other: str | None) -> str:
    """The one line of a process whose store (``store_id``) cannot use ``prefix``, bound to
    the store ``other`` (None: unknown)."""
    holder = f"store {other}" if other else "another store"
    return (
        f"the RabbitMQ queue prefix {prefix!r} (--queue-prefix) is bound to {holder}, not to "
        f"this one ({store_id}): give each store its own --queue-prefix, or, if that "
        f"store is gone for good, release the prefix with `conveyor release-prefix "
        f"--broker URL --queue-prefix {prefix}`"
    )


async def release_prefix(url: str, prefix: str, seconds: float = 10.0) -> bool:
    """Delete ``prefix``'s marker on the broker at ``url``; whether there was one.

    Raises DeliveryUnavailable when the broker cannot be reached or does not answer within
    ``seconds``.
    """
    try:
        with quiet_first_connect():
            connection = await aio_pika.connect(url, timeout=seconds)
    except FAILURES as exc:
        where = broker_address(url)
        raise DeliveryUnavailable(f"cannot reach RabbitMQ at {where} ({cause(exc)})") from exc
    async with connection:
        try:
            async with asyncio.timeout(seconds):
                channel = await connection.channel()
                try:
                    await channel.declare_queue(marker_queue(prefix), passive=True)
                except ChannelNotFoundEntity:
                    return False
                await channel.queue_delete(marker_queue(prefix))
        except FAILURES as exc:
            raise failure(f"cannot release the queue prefix {prefix!r}", exc) from exc
    return True
