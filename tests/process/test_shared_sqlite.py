"""One SQLite file shared by a gateway and consumer processes on one host (RabbitMQ delivery).

Store level: shared opens coexist, a sole (embedded) open is refused while they run and the
other way round, and claims stay atomic across connections. Process level: a gateway and
three ``conveyor consumer`` processes on one file run 1,000 messages once each, and a
consumer killed with ``kill -9`` mid-message is taken over.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from shared.adapters.sqlite.database import SqliteStore, StoreLocked
from shared.domain.message import MessageRecord, utcnow
from shared.ports import ClaimOutcome
from tests.support.processes import Proc, http_args
from tests.support.queues import add_queue
from tests.support.services import delete_rabbit_queues, require_rabbitmq
from tests.support.tokens import HS_SECRET, Keys
from tests.support.waiting import wait_until


async def test_shared_opens_coexist_and_exclude_a_sole_one(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.db"
    first, second = SqliteStore(path, shared=True), SqliteStore(path, shared=True)
    await first.open()
    await second.open()
    assert first.shared_between_processes and second.shared_between_processes
    sole = SqliteStore(path)
    with pytest.raises(StoreLocked, match="in use by another Conveyor process"):
        await sole.open()
    await first.close()
    await second.close()
    await sole.open()
    assert not sole.shared_between_processes
    late = SqliteStore(path, shared=True)
    with pytest.raises(StoreLocked, match="embedded Conveyor"):
        await late.open()
    await sole.close()


async def test_claims_are_atomic_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.db"
    stores = [SqliteStore(path, shared=True) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        records = [MessageRecord.new("q", {"n": n}) for n in range(50)]
        await stores[0].insert_many(records)
        lease = utcnow() + timedelta(seconds=30)
        for record in records:
            claims = await asyncio.gather(
                *(s.claim("q", record.id, f"owner-{i}", lease) for i, s in enumerate(stores))
            )
            outcomes = collections.Counter(c.outcome for c in claims)
            assert outcomes[ClaimOutcome.CLAIMED] == 1, outcomes
    finally:
        for store in stores:
            await store.close()


# --- real processes --------------------------------------------------------------------


class Cluster:
    """A gateway and consumers sharing one SQLite file, on the shared RabbitMQ."""

    def __init__(self, tmp: Path, queues_dir: Path) -> None:
        self.broker = require_rabbitmq()
        self.prefix = f"ptest.{uuid.uuid4().hex[:10]}."
        self.tmp = tmp
        self.flags = [
            "--broker", self.broker, "--queue-prefix", self.prefix,
            "--store", f"sqlite:///{tmp / 'shared.db'}", "--handlers", str(queues_dir),
            "--lease-seconds", "3", "--republish-after-seconds", "2",
        ]  # fmt: skip
        self.procs: list[Proc] = []

    def gateway(self) -> str:
        port, listen = http_args()
        proc = Proc(["gateway", *self.flags, "--jwt-secret", HS_SECRET, *listen], self.log("gw"))
        self.procs.append(proc.start())
        proc.wait_for_log("gateway listening")
        return f"http://127.0.0.1:{port}"

    def consumer(self) -> Proc:
        args = ["consumer", *self.flags, "--sweep-interval-seconds", "1", "--concurrency", "16"]
        proc = Proc(args, self.log("consumer")).start()
        self.procs.append(proc)
        proc.wait_for_log("consuming")
        return proc

    def log(self, what: str) -> Path:
        return self.tmp / f"{what}-{len(self.procs)}.log"


@pytest.fixture
def cluster(tmp_path: Path, queues_dir: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, queues_dir)
    try:
        yield made
    finally:
        for proc in made.procs:
            proc.kill()
            proc.popen.wait()
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(made.broker, made.prefix, names))


async def wait_all_final(
    session: aiohttp.ClientSession, base: str, queue: str, ids: list[str], token: str
) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"}
    pending = set(ids)
    records: dict[str, dict[str, object]] = {}

    async def all_final() -> bool:
        for message_id in list(pending):
            async with session.get(f"{base}/{queue}/{message_id}", headers=headers) as resp:
                record = await resp.json()
            if record["status"] in ("COMPLETE", "ERROR"):
                records[message_id] = record
                pending.discard(message_id)
        return not pending

    await wait_until(all_final, "every message to be final", 120, interval=0.3)
    return [records[i] for i in ids]


@pytest.mark.distributed
@pytest.mark.slow
async def test_a_gateway_and_three_consumers_share_one_file(
    cluster: Cluster, queues_dir: Path, tmp_path: Path, keys: Keys
) -> None:
    add_queue(queues_dir, "spanlog", handler="spanlog", roles={"roles": ["tester"]})
    base = cluster.gateway()
    consumers = [cluster.consumer() for _ in range(3)]
    token = keys.token(["tester"])
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "spans.log"
    async with aiohttp.ClientSession() as session:
        # One long message that a consumer is killed in the middle of ...
        async with session.post(
            f"{base}/spanlog", json={"log": str(log), "seconds": 4}, headers=headers
        ) as resp:
            assert resp.status == 201, await resp.text()
            victim_id = (await resp.json())["id"]
        await wait_until(
            lambda: log.exists() and victim_id in log.read_text(), "the long message to start"
        )
        runner_pid = int(log.read_text().split()[1])
        victim = next(p for p in consumers if p.pid == runner_pid)
        victim.kill()
        # ... and 1,000 short ones, in batches.
        ids: list[str] = []
        for start in range(0, 1000, 100):
            batch = [{"log": str(log)} for _ in range(start, start + 100)]
            async with session.post(f"{base}/spanlog/batch", json=batch, headers=headers) as resp:
                assert resp.status == 207
                items = (await resp.json())["items"]
            assert {item["status"] for item in items} == {201}
            ids.extend(item["id"] for item in items)
        records = await wait_all_final(session, base, "spanlog", [victim_id, *ids], token)
    assert {r["status"] for r in records} == {"COMPLETE"}
    starts = collections.Counter(
        line.split()[0] for line in log.read_text().splitlines() if " start " in line
    )
    assert all(starts[i] == 1 for i in ids), "a short message ran more than once"
    assert starts[victim_id] == 2  # killed mid-run, then taken over by another consumer
    assert records[0]["attempts"] == 2
    pids = {line.split()[1] for line in log.read_text().splitlines()}
    assert len(pids) >= 2, "only one consumer did the work"
