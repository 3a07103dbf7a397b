"""Idempotency keys: what a store keeps per key, the body fingerprint and the key rules.

A client may send ``Idempotency-Key`` with ``POST /{queue}``. The key is bound, within a
*scope* (the queue and the caller), to the fingerprint of the body and to the id of the
message it created, for :data:`KEY_TTL`. The binding goes through two states: ``RESERVED``
while the message is being recorded and delivered, ``DONE`` once it was accepted. A push
that fails releases (deletes) its reservation, so a key never points to a message that was
never accepted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain.message import Json

#: How long a key stays bound to its message.
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyState(StrEnum):
    """Where the push that holds a key is."""

    RESERVED = "reserved"  #: recording/delivering the message now
    DONE = "done"  #: the message was accepted


@dataclass(frozen=True, slots=True)
class IdempotencyEntry:
    """One key's binding, as a store keeps it."""

    scope: str
    key: str
    body_hash: str
    message_id: str
    state: KeyState
    created_at: datetime
    expires_at: datetime


def body_hash(message: Json) -> str:
    """SHA-256 (hex) of the canonical JSON of ``message``: sorted keys, compact, ASCII."""
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def valid_key(text: str) -> bool:
    """True for 1 to 255 printable ASCII characters (space to ``~``)."""
    return 0 < len(text) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in text)


def scope_of(queue: str, caller: str) -> str:
    """The scope keys of ``caller`` on ``queue`` live in (unambiguous for any strings)."""
    return json.dumps([queue, caller], separators=(",", ":"))
