"""Group commit (``shared.adapters.sqlite.group_commit``): concurrent writes share transactions,
each caller gets its own result or error, and a failed write does not undo the others."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.sqlite.group_commit import GroupCommit, apply_batch


class Boom(Exception):
    pass


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[GroupCommit, sqlite3.Connection, list[int]]]:
    executor = ThreadPoolExecutor(1)
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    batches: list[int] = []

    async def on_thread(fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, conn)

    def counting(fn: Any) -> Any:
        batches.append(len(fn.args[0]))
        return on_thread(fn)

    yield GroupCommit(counting, lambda exc: Boom(str(exc))), conn, batches
    conn.close()
    executor.shutdown()


def insert(key: str) -> Any:
    return lambda c: c.execute("INSERT INTO t VALUES (?)", (key,)).rowcount


async def test_concurrent_writes_share_a_few_transactions(
    db: tuple[GroupCommit, sqlite3.Connection, list[int]],
) -> None:
    group, conn, batches = db
    results = await asyncio.gather(*(group.write(insert(f"k{n}")) for n in range(200)))
    assert results == [1] * 200
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (200,)
    assert sum(batches) == 200
    assert len(batches) < 20  # the first write alone, then what queued meanwhile


async def test_a_failing_write_fails_alone(
    db: tuple[GroupCommit, sqlite3.Connection, list[int]],
) -> None:
    group, conn, _ = db
    await group.write(insert("dup"))
    outcomes = await asyncio.gather(
        group.write(insert("a")), group.write(insert("dup")), group.write(insert("b")),
        return_exceptions=True,
    )  # fmt: skip
    assert outcomes[0] == 1 and outcomes[2] == 1
    assert isinstance(outcomes[1], Boom) and "UNIQUE" in str(outcomes[1])
    assert sorted(r[0] for r in conn.execute("SELECT k FROM t")) == ["a", "b", "dup"]


def test_a_batch_that_cannot_commit_writes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")

    def explode(c: sqlite3.Connection) -> None:
        raise KeyboardInterrupt  # not a write error: the whole transaction is abandoned

    with pytest.raises(KeyboardInterrupt):
        apply_batch([insert("a"), explode], conn)
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
