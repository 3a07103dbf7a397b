"""``conveyor serve`` as a real process: killed with SIGKILL mid-handler and restarted, every
accepted message still completes; SIGTERM lets in-flight handlers finish within the grace
period, and what does not finish is left PENDING for the next start, and open event streams
end; ``conveyor token`` mints what ``serve`` accepts."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import http_call
from tests.support.handler_files import touch
from tests.support.processes import clean_env, conveyor
from tests.support.queues import add_event_queues, add_queue
from tests.support.serve import ServeProcess, Spawn, get, push, serve_args, token, wait_final
from tests.support.sse import STREAM, events
from tests.support.tokens import HS_SECRET, Keys
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.slow


def answer_of(connection: http.client.HTTPConnection) -> tuple[int, Any]:
    """The status and JSON body of the answer to the request sent on ``connection``."""
    with contextlib.closing(connection):
        resp = connection.getresponse()
        return resp.status, json.loads(resp.read())


def wait_for_file(path: Path, proc: ServeProcess, within: float = 20) -> None:
    def appeared() -> bool:
        assert proc.proc.poll() is None, proc.log()
        return path.exists()

    wait_until_sync(appeared, f"{path} to appear", within, detail=proc.log)


def test_kill_9_mid_handler_then_restart_completes_every_accepted_message(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    args = serve_args(tmp_path, queues_dir, "--concurrency", "1")
    first = spawn(*args)
    marker = tmp_path / "interrupted.started"
    interrupted = push(first, "slow", {"seconds": 3, "marker": str(marker)})
    waiting = [push(first, "slow", {"seconds": 0.05}) for _ in range(3)]
    echoes = [push(first, "echo", {"n": n}) for n in range(3)]
    wait_for_file(marker, first)
    assert get(first, "slow", interrupted)["status"] == "INPROGRESS"

    first.proc.send_signal(signal.SIGKILL)
    assert first.wait_exit(10) == -signal.SIGKILL

    second = spawn(*args)
    record = wait_final(second, "slow", interrupted)
    assert record["status"] == "COMPLETE", record
    assert record["attempts"] == 2
    assert record["result"] == {"slept": 3, "attempt": 2}
    assert marker.read_text().split() == [interrupted, "2"]
    for message_id in waiting:
        record = wait_final(second, "slow", message_id)
        assert (record["status"], record["attempts"]) == ("COMPLETE", 1), record
    for message_id in echoes:
        assert wait_final(second, "echo", message_id)["status"] == "COMPLETE"


def test_sigterm_lets_in_flight_handlers_finish_and_exits_0(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    """Both handlers are running when SIGTERM arrives and are released only after it."""
    add_queue(queues_dir, "held", handler="gate", roles={"roles": ["tester"]})
    add_queue(queues_dir, "heldsync", handler="syncgate", roles={"roles": ["tester"]})
    args = serve_args(tmp_path, queues_dir, "--grace-seconds", "30")
    release = tmp_path / "release"
    first = spawn(*args)
    ids = {}
    for queue in ("held", "heldsync"):
        marker = tmp_path / f"{queue}.started"
        ids[queue] = push(first, queue, {"marker": str(marker), "release": str(release)})
        wait_for_file(marker, first)

    first.proc.send_signal(signal.SIGTERM)
    # Release the handlers only once shutdown has counted them as in flight.
    wait_until_sync(
        lambda: "for 2 in-flight messages" in first.log(),
        "shutdown to count 2 in-flight messages",
        detail=first.log,
    )
    touch(release)
    assert first.wait_exit(25) == 0, first.log()

    second = spawn(*args)
    for queue, message_id in ids.items():
        record = get(second, queue, message_id)
        assert (record["status"], record["attempts"]) == ("COMPLETE", 1), record


@pytest.mark.parametrize("handler", ["gate", "syncgate"])
def test_sigterm_past_the_grace_period_leaves_the_message_pending(
    spawn: Spawn, tmp_path: Path, queues_dir: Path, handler: str
) -> None:
    """The handler waits for a release file the test only creates after the restart, so the
    process must exit while the handler is still running (async: cancelled; sync: its
    thread abandoned) and the message must be back to PENDING."""
    add_queue(queues_dir, "held", handler=handler, roles={"roles": ["tester"]})
    args = serve_args(tmp_path, queues_dir, "--grace-seconds", "0.5")
    marker, release = tmp_path / "held.started", tmp_path / "release"
    first = spawn(*args)
    held = push(first, "held", {"marker": str(marker), "release": str(release)})
    wait_for_file(marker, first)

    first.proc.send_signal(signal.SIGTERM)
    assert first.wait_exit(30) == 0, first.log()
    assert not release.exists()
    assert "put back to PENDING" in first.log()

    # restarted without a consumer for "held", the record shows what shutdown left
    inspect = spawn(*args, "--queues", "echo")
    record = get(inspect, "held", held)
    assert (record["status"], record["attempts"]) == ("PENDING", 1), record
    inspect.proc.send_signal(signal.SIGTERM)
    assert inspect.wait_exit(30) == 0

    marker.unlink()
    touch(release)
    final = spawn(*args)
    record = wait_final(final, "held", held)
    assert (record["status"], record["attempts"]) == ("COMPLETE", 2), record
    assert marker.read_text().split() == [held, "2"]


def test_token_command_mints_what_serve_accepts(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    """No key configured anywhere: both use the secret generated beside the database (here
    by ``token --create-secret``, before serve ever ran)."""
    add_queue(queues_dir, "vip", roles={"replace": True, "roles": ["a"]})
    args = serve_args(tmp_path, queues_dir)
    store = args[1]

    create = ("--create-secret",)
    minted = conveyor("token", "--roles", "a,b", "--store", store, *create, cwd=tmp_path)
    assert minted.returncode == 0, minted.stderr
    outsider = conveyor("token", "--roles", "b", "--store", store, cwd=tmp_path)
    secret_file = tmp_path / "db" / "conveyor.secret"
    secret = secret_file.read_text()

    proc = spawn(*args, env=clean_env())
    assert secret_file.read_text() == secret, "serve reuses the secret"
    status, record = http_call("POST", f"{proc.url}/vip", {"x": 1}, minted.stdout.strip())
    assert status == 201, record
    status, _ = http_call("POST", f"{proc.url}/vip", {"x": 1}, outsider.stdout.strip())
    assert status == 403
    status, _ = http_call("POST", f"{proc.url}/vip", {"x": 1}, token(["a"]))
    assert status == 401, "a token signed with any other secret is refused"

    later = conveyor("token", "--roles", "a", "--store", store, cwd=tmp_path)
    status, _ = http_call("POST", f"{proc.url}/vip", {"x": 2}, later.stdout.strip())
    assert status == 201


def test_sigterm_drains_the_gateway_before_closing(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    """/readyz turns 503 at once, requests are still served during --drain-seconds, long
    polls then answer with the current state, new connections are refused, and the
    process exits 0 within the grace period."""
    import concurrent.futures

    add_queue(queues_dir, "held", handler="gate", roles={"roles": ["tester"]})
    args = serve_args(tmp_path, queues_dir, "--grace-seconds", "1", "--drain-seconds", "2")
    marker, release = tmp_path / "held.started", tmp_path / "release"
    proc = spawn(*args)
    held = push(proc, "held", {"marker": str(marker), "release": str(release)})
    wait_for_file(marker, proc)
    # The long poll is sent before the signal (request() returns once it is written): the
    # gateway, which serves its open connections through the drain, reads it either way.
    long_poll = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=90)
    long_poll.request(
        "GET", f"/held/{held}?wait=60", headers={"Authorization": f"Bearer {token()}"}
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(answer_of, long_poll)
        proc.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        wait_until_sync(
            lambda: http_call("GET", f"{proc.url}/readyz")[0] == 503,
            "/readyz to answer 503",
            5,
            interval=0.02,
            detail=proc.log,
        )
        assert time.monotonic() - signalled < 1.5  # at once, not after the drain
        assert push(proc, "echo", {"during": "drain"})  # still served while draining
        status, record = waiting.result(timeout=20)
        answered = time.monotonic() - signalled
    assert status == 200 and record["status"] == "INPROGRESS", (status, record)
    assert 1.5 <= answered < 10, answered  # after the drain delay, long before wait=60
    assert proc.wait_exit(20) == 0, proc.log()
    try:
        http_call("GET", f"{proc.url}/healthz", timeout=1)
        raise AssertionError("still accepting connections after exit")
    except OSError:
        pass


def test_sigterm_ends_open_streams(tmp_path: Path, queues_dir: Path, keys: Keys) -> None:
    """A real ``conveyor serve`` with a stream open: SIGTERM ends the stream, then the
    process exits (graceful shutdown, ``gateway.draining``)."""
    add_event_queues(queues_dir)
    proc = ServeProcess(
        [
            "--handlers",
            str(queues_dir),
            "--store",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--jwt-secret",
            HS_SECRET,
            "--drain-seconds",
            "0",
            "--grace-seconds",
            "1",
            "--events-heartbeat-seconds",
            "30",
        ],
        clean_env(),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_healthy()
        asyncio.run(_stream_until_sigterm(proc, tmp_path, keys.token(["tester"])))
        assert proc.wait_exit(20) == 0, proc.log()
    finally:
        proc.close()


async def _stream_until_sigterm(proc: ServeProcess, tmp_path: Path, token: str) -> None:
    body: dict[str, Any] = {"marker": str(tmp_path / "m"), "release": str(tmp_path / "r")}
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{proc.url}/gate", json=body, headers=auth) as resp:
            assert resp.status == 201, await resp.text()
            mid = (await resp.json())["id"]
        url = f"{proc.url}/gate/{mid}/events"
        async with session.get(url, headers={**auth, **STREAM}) as resp:
            assert resp.status == 200
            got = events(resp)
            first = await anext(got)
            assert first.event == "status"
            proc.proc.terminate()
            # Ends cleanly (the last chunk is sent: an aborted answer would raise
            # ClientPayloadError here), before the handler's grace period cancels anything.
            rest = [e async for e in got]
        assert all(e.comment is not None or e.event != "deleted" for e in rest)


def test_sigterm_answers_a_waiting_push_at_once_with_its_current_state(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    """``POST ?wait=60`` on a held message: SIGTERM makes it answer 201 with the running
    record as soon as the drain ends, not after the 60 s (the call would time out first)."""
    import concurrent.futures

    add_queue(queues_dir, "held", handler="gate", roles={"roles": ["tester"]})
    args = serve_args(tmp_path, queues_dir, "--grace-seconds", "1", "--drain-seconds", "0")
    marker, release = tmp_path / "held.started", tmp_path / "release"
    proc = spawn(*args)
    body = {"marker": str(marker), "release": str(release)}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(http_call, "POST", f"{proc.url}/held?wait=60", body, token(), 30)
        wait_for_file(marker, proc)  # pushed, running, and its push is waiting
        assert not waiting.done()
        proc.proc.send_signal(signal.SIGTERM)
        status, record = waiting.result(timeout=30)
    assert status == 201 and record["status"] == "INPROGRESS", (status, record)
    assert proc.wait_exit(20) == 0, proc.log()
