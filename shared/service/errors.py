"""The errors the messaging service reports; the gateway maps each to one HTTP answer
(``gateway.http.errors.STATUS_OF``), handlers see them as they are."""

from __future__ import annotations

from dataclasses import dataclass


class MessagingError(Exception):
    """Base of the errors the messaging service reports to its callers."""


class UnknownQueue(MessagingError):
    """No queue of that name is loaded."""


@dataclass
class ValidationFailed(MessagingError):
    """The message breaks the queue's schema; ``errors`` lists every violation."""

    errors: list[dict[str, str]]


class TooLarge(MessagingError):
    """The store refuses a message this large."""


class Unavailable(MessagingError):
    """The store or delivery could not take the request; nothing was left half-written.

    Worth retrying after a short while."""


class NotFound(MessagingError):
    """No such message on the queue."""


class Conflict(MessagingError):
    """The message's state forbids the operation (e.g. redrive of a message not ERROR)."""


class KeyInProgress(Conflict):
    """The push holding this idempotency key is still running; retry shortly."""


class KeyReused(MessagingError):
    """The idempotency key was already used with a different body."""


class DelayTooLong(MessagingError):
    """The requested start is further away than the queue's ``max_delay_seconds``."""


def store_down() -> Unavailable:
    """The :class:`Unavailable` every operation raises when the store does not answer."""
    return Unavailable("the message store is unavailable")
