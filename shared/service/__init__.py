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

from shared.service.bulk import MAX_BULK, BulkAction, BulkFilter, BulkResult
from shared.service.cancel import Cancelled
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
from shared.service.idempotent_push import Pushed
from shared.service.messaging import Messaging
from shared.service.start_time import Start

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
