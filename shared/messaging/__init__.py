"""The messaging service (``service.Messaging``) and its errors; see the submodules.

- ``service``: push (idempotent or not), batches, get/wait, delete, list, counts, redrive;
- ``dispatch``: publish-then-mark, the one path from a record to delivery;
- ``idempotent``: the ``Idempotency-Key`` protocol;
- ``waiting``: waiting for a message to become final;
- ``errors``: what callers may catch (the gateway maps each to one HTTP status).
"""

from shared.messaging.errors import (
    Conflict,
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

__all__ = [
    "Conflict",
    "KeyInProgress",
    "KeyReused",
    "Messaging",
    "MessagingError",
    "NotFound",
    "Pushed",
    "TooLarge",
    "Unavailable",
    "UnknownQueue",
    "ValidationFailed",
]
