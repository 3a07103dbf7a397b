"""Conveyor: named queues behind an authenticated HTTP API, with Python handlers.

The stable API for handler authors is what this module exports::

    from conveyor import Context, Retry, Reject

- :class:`Context`: the ``ctx`` argument of ``handle(message, ctx)``;
- :class:`Retry` / :class:`Reject`: raise to steer the retry policy;
- :class:`Status`: a record's status (``record["status"]`` values);
- the errors ``ctx.messaging`` raises (:class:`MessagingError` and its subclasses).

Everything under ``shared``, ``gateway`` and ``consumer`` is internal and may change.
"""

from conveyor.context import Context
from conveyor.errors import (
    Conflict,
    DelayTooLong,
    KeyInProgress,
    KeyReused,
    MessagingError,
    NotFound,
    Reject,
    Retry,
    TooLarge,
    Unavailable,
    UnknownQueue,
    ValidationFailed,
)
from shared.domain.message import Json, Status

__all__ = [
    "Conflict",
    "Context",
    "DelayTooLong",
    "Json",
    "KeyInProgress",
    "KeyReused",
    "MessagingError",
    "NotFound",
    "Reject",
    "Retry",
    "Status",
    "TooLarge",
    "Unavailable",
    "UnknownQueue",
    "ValidationFailed",
]
