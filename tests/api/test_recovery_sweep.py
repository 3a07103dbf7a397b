"""The recovery sweep is the authority on abandoned work (distributed mode, real RabbitMQ and
the MongoDB wire server): every accepted message ends final, or is PENDING/INPROGRESS under a
live lease, or waits for a due time it is known to wait for.

Each test builds, through the store, a state that only the sweep can repair (no copy of the
message on the broker), then watches it resolve through the HTTP API.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.serve import Served
from shared.domain.message import ErrorInfo, MessageRecord, utcnow
from shared.ports import MessageRef
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.services import WIRE_SCRIPT, mongo_python, unavailable
from tests.support.sockets import free_port, port_open
from tests.support.waiting import wait_until, wait_until_sync

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.parametrize("mode", ["distributed"], indirect=True),
]


async def recorded(served: Served, body: dict[str, object]) -> MessageRecord:
    """A PENDING record of ``echo`` that was never published to the broker."""
    record = MessageRecord.new("echo", body)
    await served.runtime.store.insert(record)
    return record


async def abandon(served: Served, record: MessageRecord, runs: int) -> None:
    """Claim it ``runs`` times by owners that died at once (their leases long expired)."""
    for n in range(runs):
        past = utcnow() - timedelta(seconds=30)
        claim = await served.runtime.store.claim("echo", record.id, f"dead-{n}", past)
        assert claim.record is not None and claim.record.attempts == n + 1


async def test_an_abandoned_run_with_runs_left_is_republished_and_completes(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(delivery_limit=3)
    api = api_for(served)
    record = await recorded(served, {"abandoned": True})
    await abandon(served, record, runs=1)  # INPROGRESS, lease expired, nothing on the broker
    final = await api.wait_final("echo", record.id, api.keys.token(["tester"]), within=15)
    assert (final["status"], final["attempts"]) == ("COMPLETE", 2)


async def test_an_abandoned_run_out_of_runs_is_marked_error(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(delivery_limit=2)
    api = api_for(served)
    token = api.keys.token(["tester"])
    record = await recorded(served, {"abandoned": True})
    await abandon(served, record, runs=2)
    final = await api.wait_final("echo", record.id, token, within=15)
    assert final["status"] == "ERROR"
    assert final["error"]["type"] == "DeliveryLimitExceeded"
    # Redrive still works on it.
    redriven = await api.session.post(
        f"{api.base}/echo/{record.id}/retry", headers=api.auth(api.keys.token(["system_admin"]))
    )
    assert redriven.status == 200, await redriven.text()
    assert (await api.wait_final("echo", record.id, token))["status"] == "COMPLETE"


async def test_an_overdue_retry_whose_copy_was_lost_is_republished(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    store = served.runtime.store
    record = await recorded(served, {"retry": True})
    await abandon(served, record, runs=1)
    due = utcnow() - timedelta(seconds=5)  # its delayed copy should have come back by now
    assert await store.schedule_retry("echo", record.id, "dead-0", ErrorInfo("E", "x"), due)
    await store.mark_published([MessageRef("echo", record.id)])  # ... as if it was sent
    final = await api.wait_final("echo", record.id, api.keys.token(["tester"]), within=15)
    assert (final["status"], final["attempts"]) == ("COMPLETE", 2)


# --- a store outage longer than the lease ----------------------------------------------


class WireServer:
    """A private MongoDB wire server on a SQLite file: stopped and started again, it keeps
    its data (a store outage)."""

    def __init__(self, path: Path) -> None:
        python = mongo_python()
        if not python or not Path(python).exists():
            unavailable("no MongoDB wire server (MONGOECO_PYTHON)")
        self.python = str(python)
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        args = [self.python, str(WIRE_SCRIPT), "--port", str(self.port), "--sqlite", str(self.path)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        proc = self.proc

        def up() -> bool:
            assert proc.poll() is None, "the wire server exited"
            return port_open("127.0.0.1", self.port, 0.2)

        wait_until_sync(up, "the wire server to listen", 30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[WireServer]:
    server = WireServer(tmp_path / "wire.sqlite")
    server.start()
    yield server
    server.stop()


def spans(log: Path) -> list[tuple[str, str, float]]:
    """(pid, event, time) lines of the span log."""
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(pid, event, float(at)) for _id, pid, event, at in rows]


async def test_a_consumer_that_cannot_renew_its_lease_stops_the_handler_and_writes_nothing(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    queues_dir: Path,
    wire: WireServer,
    tmp_path: Path,
) -> None:
    add_queue(queues_dir, "spanlog", handler="spanlog", roles={"roles": ["tester"]})
    lease = 2.0
    served = await start_conveyor(store=wire.url, lease_seconds=lease)
    api = api_for(served)
    token = api.keys.token(["tester"])
    log = tmp_path / "spans.log"
    message_id = await api.push("spanlog", {"log": str(log), "seconds": 6}, token)
    await wait_until(lambda: log.exists() and log.read_text(), "the handler to start", 15)

    wire.stop()  # longer than the lease: the consumer cannot renew
    await wait_until(lambda: "cancelled" in log.read_text(), "the handler to stop", 3 * lease)
    await asyncio.sleep(lease)
    wire.start()

    final = await api.wait_final("spanlog", message_id, token, within=40)
    assert final["status"] == "COMPLETE"
    events = spans(log)
    assert [e for _, e, _ in events] == ["start", "cancelled", "start", "end"]
    first_stop, second_start = events[1][2], events[2][2]
    assert first_stop <= second_start, "the two runs overlapped"
