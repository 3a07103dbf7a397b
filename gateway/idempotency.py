"""``Idempotency-Key`` on ``POST /{queue}``: a retried push returns the original message.

The write path: validate the body → reserve the key in the store (atomic: of concurrent
reservations exactly one wins) bound to a fresh message id and the body's fingerprint →
push with that id → mark the key DONE → 201. If the push fails the reservation is released,
so a key never points to a message that was not accepted.

A request that finds the key already held:

- different body fingerprint → 422;
- DONE → 200 with the original ``Location`` and the message's current record (409 if that
  message has been deleted since);
- RESERVED (the original is still being pushed) → it waits, polling with backoff, up to
  :data:`WAIT_SECONDS`, then answers 409 (``Retry-After: 1``). If the original fails and
  releases the key meanwhile, the waiting request takes the key and pushes itself.
- RESERVED for longer than :data:`STALE_AFTER` → its gateway died mid-push: if the message
  was recorded it counts as accepted (the recovery sweep delivers it) and is replayed,
  otherwise the reservation is released and taken over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from aiohttp import web

from gateway.errors import ApiError, json_response
from gateway.pushing import location, push_errors
from shared.idempotency import (
    KEY_TTL,
    IdempotencyEntry,
    KeyState,
    body_hash,
    scope_of,
    valid_key,
)
from shared.ports import StoreUnavailable
from shared.records import Json, new_message_id, utcnow
from shared.registry import LoadedQueue
from shared.runtime import Runtime

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
#: How long a duplicate waits for the original push to finish before answering 409.
WAIT_SECONDS = 10.0
#: A reservation this old belongs to a push that died (pushes time out well before).
STALE_AFTER = timedelta(seconds=60)
FIRST_POLL, MAX_POLL = 0.02, 0.25


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, None without one; 400 if malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not valid_key(raw):
        raise ApiError(400, f"{HEADER} must be 1 to 255 printable ASCII characters")
    return raw


def _unavailable() -> ApiError:
    return ApiError(503, "the message store is unavailable", headers={"Retry-After": "1"})


async def push_idempotent(
    rt: Runtime,
    queue: LoadedQueue,
    caller: str,
    key: str,
    message: Json,
    request_id: str | None = None,
) -> web.Response:
    """Push ``message`` once per (queue, caller, key); see the module docstring."""
    with push_errors(queue.name):
        rt.messaging.validate(queue.name, message)
    scope, digest = scope_of(queue.name, caller), body_hash(message)
    deadline = time.monotonic() + WAIT_SECONDS
    poll = FIRST_POLL
    while True:
        now = utcnow()
        mine = IdempotencyEntry(
            scope, key, digest, new_message_id(), KeyState.RESERVED, now, now + KEY_TTL
        )
        try:
            held = await rt.store.reserve_key(mine)
        except StoreUnavailable:
            raise _unavailable() from None
        if held is None:
            return await _push_reserved(rt, queue, mine, message, request_id)
        if held.body_hash != digest:
            raise ApiError(422, f"{HEADER} {key!r} was already used with a different body")
        if held.state is KeyState.DONE:
            return await _replay(rt, queue, held)
        if now - held.created_at > STALE_AFTER:
            answer = await _settle_stale(rt, queue, held)
            if answer is not None:
                return answer
            continue
        if time.monotonic() >= deadline:
            raise ApiError(
                409, f"a push with {HEADER} {key!r} is in progress", headers={"Retry-After": "1"}
            )
        await asyncio.sleep(poll)
        poll = min(poll * 1.5, MAX_POLL)


async def _push_reserved(
    rt: Runtime, queue: LoadedQueue, mine: IdempotencyEntry, message: Json, request_id: str | None
) -> web.Response:
    """Push under a key this request holds; release it if the push fails."""
    try:
        with push_errors(queue.name):
            record = await rt.messaging.push(
                queue.name, message, request_id=request_id, message_id=mine.message_id
            )
    except BaseException:
        await _release(rt, mine)
        raise
    try:
        await rt.store.finish_key(mine.scope, mine.key, mine.message_id)
    except StoreUnavailable as exc:
        # Accepted anyway; duplicates treat the reservation as stale later and replay it.
        log.warning("could not mark key %r done for %s: %s", mine.key, mine.message_id, exc)
    headers = {"Location": location(queue.name, record.id)}
    return json_response(record.to_public(), status=201, headers=headers)


async def _release(rt: Runtime, entry: IdempotencyEntry) -> None:
    try:
        await rt.store.release_key(entry.scope, entry.key, entry.message_id)
    except StoreUnavailable as exc:
        # It stays RESERVED with no message; a duplicate takes it over once stale.
        log.warning("could not release key %r: %s", entry.key, exc)


async def _replay(rt: Runtime, queue: LoadedQueue, held: IdempotencyEntry) -> web.Response:
    """200 with the key's message as it is now."""
    with push_errors(queue.name):
        record = await rt.messaging.get(queue.name, held.message_id)
    if record is None:
        raise ApiError(409, f"the message {HEADER} {held.key!r} created has been deleted")
    headers = {"Location": location(queue.name, record.id)}
    return json_response(record.to_public(), status=200, headers=headers)


async def _settle_stale(
    rt: Runtime, queue: LoadedQueue, held: IdempotencyEntry
) -> web.Response | None:
    """A dead push's reservation: replay its message if recorded, else release (None)."""
    with push_errors(queue.name):
        record = await rt.messaging.get(queue.name, held.message_id)
    try:
        if record is None:
            await rt.store.release_key(held.scope, held.key, held.message_id)
            return None
        await rt.store.finish_key(held.scope, held.key, held.message_id)
    except StoreUnavailable:
        raise _unavailable() from None
    return await _replay(rt, queue, held)
