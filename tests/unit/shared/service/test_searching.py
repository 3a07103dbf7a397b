"""``SearchIndexes``: a search waits (409) until its fields' indexes are built, builds start
at most once at a time per field, and a failed build is retried by the next search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from shared.domain.message import Status
from shared.ports import FieldMatch, ListCursor, StoreUnavailable
from shared.queues.definitions import parse_definition
from shared.queues.registry import LoadedQueue
from shared.service.searching import IndexBuilding, SearchIndexes
from tests.support.waiting import wait_until

SCHEMA = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", "x-conveyor-index": True},
        "urgent": {"type": "boolean", "x-conveyor-index": True},
    },
}


def queue(name: str = "q", schema: object = SCHEMA) -> LoadedQueue:
    path = Path(f"{name}.queue.json")
    definition = parse_definition(path, {"name": name, "incoming": {"schema": schema}})
    return LoadedQueue(definition, frozenset())


class FakeSearch:
    """Records the builds asked for; fails the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.built: list[tuple[str, str]] = []
        self.failures = failures

    async def build_index(self, queue: str, field: str) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("down")
        self.built.append((queue, field))

    async def count_records(
        self,
        queue: str,
        status: Status | None,
        where: Sequence[FieldMatch],
        limit: int,
        before: ListCursor | None = None,
        after: datetime | None = None,
    ) -> int:
        raise AssertionError("not used")


async def test_a_search_is_refused_while_its_index_builds_and_served_after() -> None:
    search = FakeSearch()
    indexes = SearchIndexes(search)
    release = asyncio.Event()

    async def hold(queue: str, field: str) -> None:
        await release.wait()

    indexes.hold = hold
    q = queue()
    indexes.start([q])
    with pytest.raises(IndexBuilding, match="customer of queue 'q' is being built"):
        indexes.require(q, [FieldMatch("customer", "acme")])
    indexes.require(q, [])  # no term: nothing to wait for
    release.set()
    await wait_until(
        lambda: indexes.ready("q", "customer") and indexes.ready("q", "urgent"), "both built"
    )
    indexes.require(q, [FieldMatch("customer", "acme"), FieldMatch("urgent", True)])
    assert sorted(search.built) == [("q", "customer"), ("q", "urgent")]
    indexes.ensure([q])  # built: nothing more
    assert not indexes._building
    await indexes.close()


async def test_a_failed_build_is_started_again_by_the_next_search() -> None:
    search = FakeSearch(failures=1)
    indexes = SearchIndexes(search)
    q = queue(schema={"properties": {"customer": {"type": "string", "x-conveyor-index": True}}})
    indexes.start([q])
    await wait_until(lambda: search.failures == 0 and not indexes._building, "the failed build")
    assert not indexes.ready("q", "customer")
    with pytest.raises(IndexBuilding):
        indexes.require(q, [FieldMatch("customer", "a")])  # starts it again
    await wait_until(lambda: indexes.ready("q", "customer"), "the second build")
    assert search.built == [("q", "customer")]


async def test_follow_builds_only_once_started() -> None:
    search = FakeSearch()
    indexes = SearchIndexes(search)
    indexes.follow([queue()])  # a consumer's reload: not started, nothing built
    assert not indexes._building
    indexes.start([])
    indexes.follow([queue("other")])
    await wait_until(lambda: len(search.built) == 2, "the followed builds")
    assert {q for q, _ in search.built} == {"other"}
