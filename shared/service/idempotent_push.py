"""Idempotent pushes: a retried push with the same key returns the original message.

The write path: reserve the key in the store (atomic: of concurrent reservations exactly
one wins) bound to a fresh message id and the body's fingerprint → push with that id →
mark the key DONE. If the push fails the reservation is released, so a key never points to
a message that was not accepted. The body is validated once, by the caller, before this.

A push that finds the key already held:

- different body fingerprint → :class:`KeyReused`;
- DONE → the original message as it is now, ``created=False`` (:class:`Conflict` if that
  message has been deleted since);
- RESERVED (the original is still being pushed) → it waits, polling with backoff, up to
  :data:`WAIT_SECONDS`, then raises :class:`KeyInProgress`. If the original fails and
  releases the key meanwhile, the waiting push takes the key and pushes itself.
- RESERVED for longer than :data:`STALE_AFTER` → its pusher died mid-push: if the message
  was recorded it counts as accepted (the recovery sweep delivers it) and is returned,
  otherwise the reservation is released and taken over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from shared.domain.idempotency import KEY_TTL, IdempotencyEntry, KeyState
from shared.domain.message import MessageRecord, new_message_id, utcnow
from shared.ports import Keys, StoreUnavailable
from shared.service.errors import Conflict, KeyInProgress, KeyReused, Unavailable

log = logging.getLogger(__name__)

#: How long a duplicate waits for the original push to finish before KeyInProgress.
WAIT_SECONDS = 10.0
#: A reservation this old belongs to a push that died (pushes time out well before).
STALE_AFTER = timedelta(seconds=60)
FIRST_POLL, MAX_POLL = 0.02, 0.25


@dataclass(frozen=True, slots=True)
class Pushed:
    """A push's record; ``created`` is False when an earlier push with the key made it."""

    record: MessageRecord
    created: bool = True


#: Record and deliver the (validated) message under the given id; raises MessagingError.
PushAs = Callable[[str], Awaitable[MessageRecord]]
#: Read a message of the target queue; raises Unavailable.
Read = Callable[[str], Awaitable[MessageRecord | None]]


def _unavailable() -> Unavailable:
    return Unavailable("the message store is unavailable")


@dataclass(frozen=True, slots=True)
class IdempotentPush:
    """One idempotent push of a body with fingerprint ``digest`` under ``key`` in ``scope``."""

    keys: Keys
    scope: str
    key: str
    digest: str

    async def run(self, push_as: PushAs, read: Read) -> Pushed:
        """Push once per (scope, key); see the module docstring."""
        deadline = time.monotonic() + WAIT_SECONDS
        poll = FIRST_POLL
        while True:
            now = utcnow()
            mine = IdempotencyEntry(
                self.scope, self.key, self.digest, new_message_id(), KeyState.RESERVED, now,
                now + KEY_TTL,
            )  # fmt: skip
            try:
                held = await self.keys.reserve_key(mine)
            except StoreUnavailable:
                raise _unavailable() from None
            if held is None:
                return Pushed(await self._push_reserved(mine, push_as))
            if held.body_hash != self.digest:
                raise KeyReused(
                    f"Idempotency-Key {self.key!r} was already used with a different body"
                )
            if held.state is KeyState.DONE:
                return await self._replay(held, read)
            if now - held.created_at > STALE_AFTER:
                replayed = await self._settle_stale(held, read)
                if replayed is not None:
                    return replayed
                continue
            if time.monotonic() >= deadline:
                raise KeyInProgress(f"a push with Idempotency-Key {self.key!r} is in progress")
            await asyncio.sleep(poll)
            poll = min(poll * 1.5, MAX_POLL)

    async def _push_reserved(self, mine: IdempotencyEntry, push_as: PushAs) -> MessageRecord:
        """Push under a key this call holds; release it if the push fails."""
        try:
            record = await push_as(mine.message_id)
        except BaseException:
            await self._release(mine)
            raise
        try:
            await self.keys.finish_key(mine.scope, mine.key, mine.message_id)
        except StoreUnavailable as exc:
            # Accepted anyway; duplicates treat the reservation as stale later and replay it.
            log.warning("could not mark key %r done for %s: %s", mine.key, mine.message_id, exc)
        return record

    async def _release(self, entry: IdempotencyEntry) -> None:
        try:
            await self.keys.release_key(entry.scope, entry.key, entry.message_id)
        except StoreUnavailable as exc:
            # It stays RESERVED with no message; a duplicate takes it over once stale.
            log.warning("could not release key %r: %s", entry.key, exc)

    async def _replay(self, held: IdempotencyEntry, read: Read) -> Pushed:
        record = await read(held.message_id)
        if record is None:
            raise Conflict(f"the message Idempotency-Key {held.key!r} created has been deleted")
        return Pushed(record, created=False)

    async def _settle_stale(self, held: IdempotencyEntry, read: Read) -> Pushed | None:
        """A dead push's reservation: replay its message if recorded, else release (None)."""
        record = await read(held.message_id)
        try:
            if record is None:
                await self.keys.release_key(held.scope, held.key, held.message_id)
                return None
            await self.keys.finish_key(held.scope, held.key, held.message_id)
        except StoreUnavailable:
            raise _unavailable() from None
        return await self._replay(held, read)
