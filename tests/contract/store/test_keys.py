"""The Store's idempotency-key and batch-insert methods, run against both adapters.

``reserve_key`` / ``finish_key`` / ``release_key`` (see ``shared.ports.Store``) and
``insert_many``. Expiry is driven through the API (an entry whose ``expires_at`` is past),
never by sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.mongo.connection import KEYS_SUFFIX
from shared.domain.idempotency import KEY_TTL, IdempotencyEntry, KeyState, body_hash, scope_of
from shared.domain.message import MessageRecord, new_message_id, utcnow
from shared.ports import Store, StoreUnavailable

SCOPE = scope_of("q", "sub:alice")


def entry(
    key: str = "k1",
    *,
    scope: str = SCOPE,
    body: Any = None,
    ttl: timedelta = KEY_TTL,
) -> IdempotencyEntry:
    now = utcnow()
    digest = body_hash({"n": 1} if body is None else body)
    return IdempotencyEntry(scope, key, digest, new_message_id(), KeyState.RESERVED, now, now + ttl)


async def test_first_reservation_wins_and_later_ones_see_it(store: Store) -> None:
    first = entry()
    assert await store.reserve_key(first) is None
    held = await store.reserve_key(entry(body={"n": 2}))
    assert held is not None
    assert (held.scope, held.key, held.message_id, held.body_hash, held.state) == (
        first.scope,
        first.key,
        first.message_id,
        first.body_hash,
        KeyState.RESERVED,
    )
    assert abs((held.expires_at - first.expires_at).total_seconds()) < 0.01


async def test_keys_are_scoped(store: Store) -> None:
    assert await store.reserve_key(entry("k")) is None
    assert await store.reserve_key(entry("k", scope=scope_of("q", "sub:bob"))) is None
    assert await store.reserve_key(entry("k", scope=scope_of("other", "sub:alice"))) is None
    assert await store.reserve_key(entry("k2")) is None
    assert await store.reserve_key(entry("k")) is not None


async def test_finish_marks_done_only_for_its_message(store: Store) -> None:
    first = entry()
    await store.reserve_key(first)
    assert not await store.finish_key(first.scope, first.key, new_message_id())
    held = await store.reserve_key(entry())
    assert held is not None and held.state is KeyState.RESERVED
    assert await store.finish_key(first.scope, first.key, first.message_id)
    held = await store.reserve_key(entry())
    assert held is not None and held.state is KeyState.DONE
    assert held.message_id == first.message_id


async def test_release_frees_the_key_only_for_its_message(store: Store) -> None:
    first = entry()
    await store.reserve_key(first)
    assert not await store.release_key(first.scope, first.key, new_message_id())
    assert await store.reserve_key(entry()) is not None
    assert await store.release_key(first.scope, first.key, first.message_id)
    assert not await store.release_key(first.scope, first.key, first.message_id)
    second = entry()
    assert await store.reserve_key(second) is None
    held = await store.reserve_key(entry())
    assert held is not None and held.message_id == second.message_id


async def test_an_expired_key_is_replaced(store: Store) -> None:
    old = entry(ttl=timedelta(seconds=-1))
    assert await store.reserve_key(old) is None
    await store.finish_key(old.scope, old.key, old.message_id)
    fresh = entry(body={"other": True})
    assert await store.reserve_key(fresh) is None
    held = await store.reserve_key(entry())
    assert held is not None
    assert (held.message_id, held.state) == (fresh.message_id, KeyState.RESERVED)


async def test_a_live_key_is_not_replaced_before_expiry(store: Store) -> None:
    first = entry(ttl=timedelta(hours=23, minutes=59))
    assert await store.reserve_key(first) is None
    held = await store.reserve_key(entry())
    assert held is not None and held.message_id == first.message_id


async def test_concurrent_reservations_have_exactly_one_winner(store: Store) -> None:
    contenders = [entry() for _ in range(10)]
    answers = await asyncio.gather(*(store.reserve_key(e) for e in contenders))
    winners = [e for e, held in zip(contenders, answers, strict=True) if held is None]
    assert len(winners) == 1
    assert {held.message_id for held in answers if held is not None} == {winners[0].message_id}


async def test_insert_many_stores_every_record(store: Store) -> None:
    records = [MessageRecord.new("q", {"i": i}) for i in range(5)]
    assert await store.insert_many(records) == []
    for record in records:
        got = await store.get("q", record.id)
        assert got is not None and got.request == record.request
    assert await store.insert_many([]) == []


async def test_insert_many_with_a_duplicate_id_raises(store: Store) -> None:
    (existing,) = [MessageRecord.new("q", {"i": 0})]
    await store.insert(existing)
    batch = [MessageRecord.new("q", {"i": 1}), MessageRecord.new("q", {"i": 2}, existing.id)]
    with pytest.raises(StoreUnavailable):
        await store.insert_many(batch)
    got = await store.get("q", existing.id)
    assert got is not None and got.request == {"i": 0}


async def test_mongo_keys_have_a_ttl_index(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    database = f"keys_{uuid.uuid4().hex[:12]}"
    adapter = MongoStore(mongo_url, database, "messages")
    try:
        await adapter.open()
        col = client[database]["messages" + KEYS_SUFFIX]
        indexes = await col.index_information()
        ttl = [i for i in indexes.values() if i.get("key") == [("expires_at", 1)]]
        assert ttl and ttl[0].get("expireAfterSeconds") == 0, indexes
    finally:
        await adapter.close()
        await client.drop_database(database)
        await client.close()


def test_body_hash_is_canonical() -> None:
    assert body_hash({"a": 1, "b": [1, 2]}) == body_hash({"b": [1, 2], "a": 1})
    assert body_hash({"a": 1}) != body_hash({"a": 2})
    assert body_hash({"a": 1}) != body_hash([{"a": 1}])
