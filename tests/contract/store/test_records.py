"""Records (``shared.ports.Records``): insert, get, delete, and every JSON value a request or
result may hold, back exactly as written."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.adapters.mongo.collection import MongoStore
from shared.domain.message import Json, Status
from shared.ports import Outcome, RecordExists, Store
from tests.support.stores import Q, Raw, inserted, later, new

# --- insert / get / delete -------------------------------------------------------------


async def test_insert_get_delete(store: Store) -> None:
    record = new({"hello": "world"})
    await store.insert(record)
    got = await store.get(Q, record.id)
    assert got is not None
    assert (got.id, got.queue, got.status, got.request) == (
        record.id,
        Q,
        Status.PENDING,
        {"hello": "world"},
    )
    assert (got.result, got.error, got.attempts) == (None, None, 0)
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at - record.created_at) < timedelta(milliseconds=1)
    assert abs(got.updated_at - record.updated_at) < timedelta(milliseconds=1)
    assert await store.get("other", record.id) is None
    assert await store.get(Q, "no-such-id") is None
    assert await store.delete("other", record.id) is False
    assert await store.delete(Q, record.id) is True
    assert await store.get(Q, record.id) is None
    assert await store.delete(Q, record.id) is False


async def test_duplicate_id_is_refused(store: Store) -> None:
    (record,) = await inserted(store)
    with pytest.raises(RecordExists):  # not StoreUnavailable: retrying cannot help
        await store.insert(new(mid=record.id))


# --- JSON round trips ------------------------------------------------------------------


def deep(levels: int) -> Json:
    value: Json = "bottom"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


JSON_VALUES: dict[str, Json] = {
    "unicode": {"text": "héllo ☃ 😀 中文 \u0000 \u2028", "ключ": "значение"},
    "nested": {"a": [1, {"b": [None, True, False, {"c": []}]}, {}], "z": {"y": {"x": "w"}}},
    "key-order": {"b": 1, "a": 2, "c": {"z": 1, "y": 2}},
    "int64": [2**63 - 1, -(2**63), 2**31, -(2**31) - 1, 0, -1],
    "beyond-int64": {"big": 2**63, "small": -(2**63) - 1, "huge": 10**40},
    "floats": [0.1, -0.0, 1.5e308, 5e-324, 1.0, -2.5],
    "null": None,
    "string": "just a string",
    "number": 42,
    "bool": True,
    "list": [1, "two", 3.0, None, [4]],
    "dollar-key": {"$x": 1, "nested": {"$set": {"a": 1}}},
    "dotted-key": {"a.b": 1, "c": {"d.e.f": [1]}},
    "empty-key": {"": "empty"},
    "nul-key": {"a\u0000b": 1},
    "lone-surrogate": {"s": "\ud800x", "\udfff": 1},
    "deep": deep(60),
}


def canonical(value: Json) -> str:
    """JSON text that also tells int from float, -0.0 from 0.0, and key order."""

    def check(v: Json) -> None:
        assert type(v) in (dict, list, str, int, float, bool, type(None)), type(v)
        if isinstance(v, dict):
            for item in v.values():
                check(item)
        elif isinstance(v, list):
            for item in v:
                check(item)

    check(value)
    return json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("name", list(JSON_VALUES))
async def test_json_round_trips(store: Store, name: str) -> None:
    value = JSON_VALUES[name]
    record = replace(new(), request=value)
    await store.insert(record)
    claim = await store.claim(Q, record.id, "a", later())
    assert claim.record is not None and canonical(claim.record.request) == canonical(value)
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, value))
    got = await store.get(Q, record.id)
    assert got is not None
    assert canonical(got.request) == canonical(value)
    assert canonical(got.result) == canonical(value)


async def test_mongo_stores_plain_json_natively(mongo_db: Raw) -> None:
    store = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await store.open()
    plain, odd = new({"a": [1, 2**40, "é"]}), new({"ok": 1, "x": {"$y": 1}})
    await store.insert(plain)
    await store.insert(odd)
    await store.close()
    # Native documents stay queryable; the rest is kept as exact JSON text, with its
    # top-level scalars also native (searchable: shared.adapters.mongo.search).
    found = [doc["_id"] async for doc in mongo_db.messages.find({"request.a": 2**40})]
    assert found == [plain.id]
    raw = await mongo_db.messages.find_one({"_id": odd.id})
    assert raw is not None and raw["request"] == {"ok": 1}
    assert json.loads(raw["request_json"]) == {"ok": 1, "x": {"$y": 1}}
