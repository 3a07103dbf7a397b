"""The messaging service (``service.Messaging``) and its errors; see the submodules.

- ``service``: push (idempotent or not), batches, get/wait, delete, list, counts, redrive;
- ``dispatch``: publish-then-mark, the one path from a record to delivery;
- ``idempotent``: the ``Idempotency-Key`` protocol;
- ``waiting``: waiting for a message to become final;
- ``start``: delayed pushes (when a message may start);
- ``schedules``: cron schedules run by consumers (exactly one push per tick);
- ``cancel``: cancelling a message; ``bulk``: bulk cancel, retry and delete;
- ``errors``: what callers may catch (the gateway maps each to one HTTP status).
"""

from shared.messaging.bulk import MAX_BULK, BulkAction, BulkFilter, BulkResult
from shared.messaging.cancel import Cancelled
from shared.messaging.errors import (
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
from shared.messaging.idempotent import Pushed
from shared.messaging.service import Messaging
from shared.messaging.start import Start

__all__ = [
    "MAX_BULK",
    "BulkAction",
    "BulkFilter",
    "BulkResult",
    "Cancelled",
    "Conflict",
    "DelayTooLong",
    "KeyInProgress",
    "KeyReused",
    "Messaging",
    "MessagingError",
    "NotFound",
    "Pushed",
    "Start",
    "TooLarge",
    "Unavailable",
    "UnknownQueue",
    "ValidationFailed",
]
