"""Keeping aio-pika's own log lines out of a first connection attempt.

When RabbitMQ cannot be reached, aiormq logs ``error when creating transport`` at ERROR and
aio-pika ``... Reconnecting after N seconds`` before the attempt raises, although nothing will
reconnect: the caller reports the failure itself, in one line with the cause
(``DeliveryUnavailable``). Once connected, their lines are left alone (a lost connection is
logged once by ``shared.adapters.rabbitmq.channels``' watch, and their reconnect lines at INFO).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

#: The loggers that speak while a first connection fails.
CHATTY = ("aiormq.connection", "aio_pika.connection", "aio_pika.robust_connection")


def _drop(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL


@contextlib.contextmanager
def quiet_first_connect() -> Iterator[None]:
    """Drop records below CRITICAL of :data:`CHATTY` inside the block."""
    loggers = [logging.getLogger(name) for name in CHATTY]
    for logger in loggers:
        logger.addFilter(_drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(_drop)
