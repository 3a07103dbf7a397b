"""Conveyor: named queues behind an authenticated HTTP API, with Python handlers.

The stable API for handler authors is what this module exports::

    from conveyor import Context, Retry, Reject

- :class:`Context`: the ``ctx`` argument of ``handle(message, ctx)``, and the types of its
  parts: :class:`Messaging` (``ctx.messaging``), :class:`ClientAuth` (``ctx.auth``, which
  raises :class:`ClientAuthError`), :class:`CancelFlag` (``ctx.cancelled``);
- :class:`Retry` / :class:`Reject`: raise to steer the retry policy;
- :class:`Status`: a record's status (``record["status"]`` values);
- :data:`Json`: a type alias for a JSON value as :func:`json.loads` returns it (a dict,
  list, str, int, float, bool or None, nested). It is ``Any`` to a type checker: messages,
  results and records are JSON, their shape is the queue schema's business;
- the errors ``ctx.messaging`` raises (:class:`MessagingError` and its subclasses).

``conveyor.testing`` builds a ``ctx`` for unit tests of a handler (no server needed).
Everything under ``shared``, ``gateway`` and ``consumer`` is internal and may change.
"""

from conveyor.context import CancelFlag, ClientAuth, Context
from conveyor.errors import (
    ClientAuthError,
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
from conveyor.messaging import Messaging
from shared.domain.message import Json, Status

__all__ = [
    "CancelFlag",
    "ClientAuth",
    "ClientAuthError",
    "Conflict",
    "Context",
    "DelayTooLong",
    "Json",
    "KeyInProgress",
    "KeyReused",
    "Messaging",
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
