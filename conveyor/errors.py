"""Errors a handler may raise or catch (public API, re-exported by ``conveyor``).

Raise :class:`Retry` or :class:`Reject` to steer the retry policy; catch the messaging
errors around ``ctx.messaging`` calls, and :class:`ClientAuthError` around ``ctx.auth.token()``.
"""

from shared.domain.outcomes import Reject, Retry
from shared.queues.client_tokens import ClientAuthError
from shared.service.errors import (
    Conflict,
    DelayTooLong,
    KeyInProgress,
    KeyReused,
    MessagingError,
    NotFound,
    TooLarge,
    Unavailable,
    UnknownQueue,
    ValidationFailed,
)

__all__ = [
    "ClientAuthError",
    "Conflict",
    "DelayTooLong",
    "KeyInProgress",
    "KeyReused",
    "MessagingError",
    "NotFound",
    "Reject",
    "Retry",
    "TooLarge",
    "Unavailable",
    "UnknownQueue",
    "ValidationFailed",
]
