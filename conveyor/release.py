"""``conveyor release-prefix``: unbind a RabbitMQ queue prefix from its store.

A gateway or consumer refuses to start when ``--queue-prefix`` is bound to another store
(``shared.adapters.rabbitmq.identity``). An operator who wiped that store on purpose (a new
SQLite file, a dropped MongoDB database) runs this once, with every process of the old store
stopped: it deletes the prefix's marker queue, and the next process to start binds the prefix
to its own store. The queues and their messages stay; the old store's messages still in them
are acked unrun as deliveries without a record (one WARNING each).
"""

from __future__ import annotations

import asyncio
import sys

from shared.platform.settings import Settings, SettingsError


def release(settings: Settings) -> int:
    """Delete the marker of ``--queue-prefix`` on ``--broker``; the exit status (1: the
    broker could not be reached). Raises SettingsError without ``--broker``."""
    from shared.adapters.rabbitmq.identity import marker_queue, release_prefix
    from shared.ports import DeliveryUnavailable

    if settings.broker is None:
        raise SettingsError("conveyor release-prefix needs --broker amqp://… (RabbitMQ)")
    prefix, marker = settings.queue_prefix, marker_queue(settings.queue_prefix)
    try:
        released = asyncio.run(release_prefix(settings.broker, prefix))
    except DeliveryUnavailable as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 1
    if released:
        print(
            f"released the queue prefix {prefix!r} (deleted {marker}): the next gateway or "
            "consumer to start binds it to its store"
        )
    else:
        print(f"the queue prefix {prefix!r} is bound to no store ({marker} does not exist)")
    return 0
