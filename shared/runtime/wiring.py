"""Pick the store and delivery adapters a settings object asks for (no I/O here)."""

from __future__ import annotations

from shared.platform.settings import Settings
from shared.ports import CancelSignals, CompletionEvents, Store, WorkQueue


def make_store(settings: Settings) -> Store:
    """The store for ``--store``: SQLite for ``sqlite:///``, MongoDB for ``mongodb://``.

    A SQLite file is shared between processes when delivery is a broker (a gateway and
    consumers on one host); with in-process delivery this process must be its sole user.
    """
    path = settings.sqlite_path
    if path is not None:
        from shared.adapters.sqlite.database import SqliteStore

        return SqliteStore(path, shared=settings.broker is not None)
    from shared.adapters.mongo.collection import MongoStore

    return MongoStore(settings.store, settings.mongo_database, settings.mongo_collection)


def make_delivery(
    settings: Settings, role: str, store_identity: str | None = None
) -> tuple[WorkQueue, CompletionEvents]:
    """The work queue and completion events: RabbitMQ (one adapter for both) for
    ``--broker amqp://…``, in-process otherwise. ``role`` (``gateway``, ``consumer``,
    ``serve``) names the process's RabbitMQ connections (``conveyor-<role>-publish[…]``).

    RabbitMQ binds ``--queue-prefix`` to ``store_identity`` when it opens (another store's
    process is refused); in-process delivery serves this process's store alone."""
    if settings.broker is None:
        from shared.adapters.inprocess.queues import InProcessDelivery, LocalEvents

        return InProcessDelivery(), LocalEvents()
    from shared.adapters.rabbitmq.broker import RabbitDelivery

    rabbit = RabbitDelivery(
        settings.broker,
        prefix=settings.queue_prefix,
        delivery_limit=settings.delivery_limit,
        name=f"conveyor-{role}{settings.instance_suffix}",  # e.g. conveyor-gateway-child1
        store_identity=store_identity,
    )
    return rabbit, rabbit


def make_cancel_signals(settings: Settings, delivery: WorkQueue) -> CancelSignals:
    """The control channel for cancels: RabbitMQ's control exchange (the same adapter as
    ``delivery``) with a broker, in-process subscribers otherwise."""
    if settings.broker is None:
        from shared.adapters.inprocess.queues import LocalCancels

        return LocalCancels()
    from shared.adapters.rabbitmq.broker import RabbitDelivery

    assert isinstance(delivery, RabbitDelivery), "a broker means RabbitMQ delivery"
    return delivery
