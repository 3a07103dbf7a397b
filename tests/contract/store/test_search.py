"""``Search`` (build_index, count_records) and ``list_records(where=...)``, over both store
adapters: exact matches by JSON type, combined with status, limit and the keyset cursor, and
indexes that are partial on their queue.

The ``store`` fixture (conftest.py): a SQLite file in tmp_path, or a database of its own on
the session's MongoDB wire server.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import Json, MessageRecord, Status, utcnow
from shared.ports import FieldMatch, ListCursor, Outcome, Store

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def record(message_id: str, seconds: float, body: Json, queue: str = "q") -> MessageRecord:
    at = BASE + timedelta(seconds=seconds)
    made = MessageRecord.new(queue, body)
    return replace(made, id=message_id, created_at=at, updated_at=at)


#: Bodies that differ from {"customer": "acme", "n": 1, "urgent": true} in type or value.
BODIES: list[tuple[str, Json]] = [
    ("a1", {"customer": "acme", "n": 1, "urgent": True}),
    ("a2", {"customer": "acme", "n": 2, "urgent": False}),
    ("a3", {"customer": "acme", "n": 1.0, "urgent": True, "big": 2**70}),  # non-native in BSON
    ("b1", {"customer": "ACME", "n": "1", "urgent": 1}),  # other case, a string, an integer
    ("b2", {"customer": "acme ", "n": True, "urgent": "true"}),
    ("b3", {"n": 10, "customer": None}),
    ("b4", ["customer", "acme"]),
    ("b5", "acme"),
    ("b6", {"nested": {"customer": "acme"}}),
    ("b7", {"customer": ["acme"], "n": [1], "urgent": [True]}),  # pushed before a schema change
]


async def seeded(store: Store) -> dict[str, MessageRecord]:
    records = {i: record(i, n, body) for n, (i, body) in enumerate(BODIES)}
    for rec in records.values():
        await store.insert(rec)
    await store.insert(record("z1", 100, {"customer": "acme", "n": 1}, queue="other"))
    return records


async def matching(store: Store, *where: FieldMatch, status: Status | None = None) -> list[str]:
    return [r.id for r in await store.list_records("q", status, 50, None, where)]


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "indexed"])
async def test_terms_match_exactly_by_json_type(store: Store, indexed: bool) -> None:
    records = await seeded(store)
    if indexed:
        for field in ("customer", "n", "urgent"):
            await store.build_index("q", field)
            await store.build_index("q", field)  # idempotent
    assert await matching(store, FieldMatch("customer", "acme")) == ["a3", "a2", "a1"]
    assert await matching(store, FieldMatch("n", 1)) == ["a3", "a1"]  # 1.0 is an integer
    assert await matching(store, FieldMatch("urgent", True)) == ["a3", "a1"]
    assert await matching(store, FieldMatch("urgent", False)) == ["a2"]
    assert await matching(store, FieldMatch("n", 10)) == ["b3"]
    assert await matching(store, FieldMatch("customer", "ACME")) == ["b1"]
    assert await matching(store, FieldMatch("customer", "nobody")) == []
    both = (FieldMatch("customer", "acme"), FieldMatch("n", 2))
    assert await matching(store, *both) == ["a2"]
    assert await matching(store, FieldMatch("n", 1), FieldMatch("n", 2)) == []
    # The records come back whole, the non-native one included.
    found = await store.list_records("q", None, 1, None, [FieldMatch("customer", "acme")])
    assert found == [records["a3"]]


async def test_where_combines_with_status_limit_and_cursor(store: Store) -> None:
    for n in range(7):
        await store.insert(record(f"m{n}", n, {"customer": "acme" if n % 2 else "other"}))
    await store.build_index("q", "customer")
    claim = await store.claim("q", "m5", "me", utcnow() + timedelta(hours=1))
    assert claim.record is not None
    assert await store.finish("q", "m5", "me", Outcome(Status.COMPLETE))
    acme = [FieldMatch("customer", "acme")]
    first = await store.list_records("q", None, 2, None, acme)
    assert [r.id for r in first] == ["m5", "m3"]
    after = ListCursor(first[-1].created_at, first[-1].id)
    rest = await store.list_records("q", None, 2, after, acme)
    assert [r.id for r in rest] == ["m1"]
    pending = await store.list_records("q", Status.PENDING, 10, None, acme)
    assert [r.id for r in pending] == ["m3", "m1"]
    complete = await store.list_records("q", Status.COMPLETE, 10, None, acme)
    assert [r.id for r in complete] == ["m5"]


async def test_count_records_counts_the_selection_up_to_the_limit(store: Store) -> None:
    for n in range(6):
        await store.insert(record(f"m{n}", n, {"customer": "acme" if n < 4 else "other"}))
    await store.insert(record("x", 9, {"customer": "acme"}, queue="other"))
    acme = [FieldMatch("customer", "acme")]
    assert await store.count_records("q", None, acme, 100) == 4
    assert await store.count_records("q", None, [], 100) == 6
    assert await store.count_records("q", None, acme, 3) == 3
    assert await store.count_records("q", Status.COMPLETE, acme, 100) == 0
    assert await store.count_records("q", Status.PENDING, acme, 100) == 4
    m2 = BASE + timedelta(seconds=2)
    assert await store.count_records("q", None, acme, 100, ListCursor(m2, "")) == 2  # m0, m1
    assert await store.count_records("q", None, acme, 100, after=m2) == 1  # m3
    assert await store.count_records("nothing", None, [], 100) == 0


async def test_an_index_is_partial_on_its_queue(store: Store) -> None:
    """What keeps pushes to other queues free: their records never enter the index."""
    await store.build_index("q", "customer")
    for n in range(3):
        await store.insert(record(f"q{n}", n, {"customer": "acme"}))
    for n in range(20):
        await store.insert(record(f"o{n}", n, {"customer": "acme"}, queue="other"))
    if isinstance(store, SqliteStore):
        entries = await store._db.run(
            lambda c: c.execute(
                "SELECT SUM(ncell) FROM dbstat WHERE name = 'search:q:customer'"
                " AND pagetype = 'leaf'"
            ).fetchone()[0]
        )
        assert entries == 3  # the 20 records of "other" wrote nothing to it
        rows: Any = await store._db.run(
            lambda c: c.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'search:%'"
            ).fetchall()
        )
        assert len(rows) == 1
        name, sql = rows[0]
        assert name == "search:q:customer"
        assert sql.endswith("WHERE queue = 'q'")
        plan = await store._db.run(
            lambda c: c.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE queue = 'q'"
                " AND json_extract(request, '$.customer') = 'acme'"
                " AND json_type(request, '$.customer') = 'text'"
                " ORDER BY created_at DESC, id DESC LIMIT 5"
            ).fetchall()
        )
        assert any("USING INDEX search:q:customer" in str(row) for row in plan), plan
        assert not any("TEMP B-TREE" in str(row) for row in plan), plan  # no sort step
    else:
        assert isinstance(store, MongoStore)
        info = await store._db.messages.index_information()
        index = info["search.q.customer"]
        assert index["partialFilterExpression"] == {"queue": "q"}
        assert index["key"][0] == ("request.customer", 1)
