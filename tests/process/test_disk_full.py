"""A full disk, then a read-only one, under the SQLite store of a real ``conveyor serve``.

The store lives on a small tmpfs the test mounts (root and a kernel that allows
``mount -t tmpfs``; skipped otherwise, with the reason). Full: pushes are answered 503 with a
problem document and ``Retry-After``, never 500, and the log says the disk is full; ``/readyz``
answers 503 too (the store refused a write for a full disk moments ago), naming the full disk
only to a reader. When space returns, ``/readyz`` is ready again, pushes are accepted again
and every accepted message completes. Read-only:
``serve`` refuses to start with one ``cannot start`` line (exit 3), not a traceback. At the
end the file passes SQLite's integrity check.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_client import http_call
from tests.support.processes import clean_env, conveyor
from tests.support.responses import problem_items
from tests.support.serve import ServeProcess
from tests.support.tokens import Keys
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.slow
PAD = "x" * 8192  # each message takes a few pages: the 1 MiB disk fills within a few dozen


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (grown or made read-only by it), unmounted after."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["umount", "-l", str(disk)], check=False, timeout=30)


def push(serve: ServeProcess, token: str) -> tuple[int, Message, Any]:
    """POST one padded message to ``echo``: status, headers, parsed body."""
    request = urllib.request.Request(
        f"{serve.url}/echo",
        data=json.dumps({"pad": PAD}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.headers, json.loads(refused.read())


def fill(serve: ServeProcess, token: str, accepted: list[str]) -> int:
    """Push until the store refuses one (a 503 as the API promises); the 503s seen.

    A full disk is not a steady state (SQLite frees pages as it checkpoints or rolls back),
    so pushes go on a little after the first refusal: each is accepted or refused, never 500.
    """
    refused = 0
    for _ in range(500):
        status, headers, body = push(serve, token)
        if status == 201:
            accepted.append(body["id"])
            continue
        assert status == 503, (status, body)
        assert headers["Content-Type"].startswith("application/problem+json"), dict(headers)
        assert headers["Retry-After"], dict(headers)
        assert problem_items(body, 503) == ["the message store is unavailable"], body
        refused += 1
        if refused == 5:
            break
    return refused


def not_ready_for_a_full_disk(serve: ServeProcess, token: str, reader: str) -> bool:
    """Push once more (refused while the disk is full), then: does ``/readyz`` say so?"""
    assert push(serve, token)[0] == 503
    status, body = http_call("GET", f"{serve.url}/readyz", token=reader)
    if status != 503:
        return False
    reasons = problem_items(body, 503)
    assert len(reasons) == 1 and reasons[0].startswith("store: sqlite: database or disk is full")
    status, body = http_call("GET", f"{serve.url}/readyz")  # anonymous: the part, not why
    return status == 503 and problem_items(body, 503) == ["store unavailable"]


def ready(serve: ServeProcess) -> bool:
    return http_call("GET", f"{serve.url}/readyz")[0] == 200


def test_a_full_then_read_only_disk_answers_503_refuses_to_start_and_loses_nothing(
    small_disk: Path, tmp_path: Path, queues_dir: Path, keys: Keys
) -> None:
    db = small_disk / "conveyor.db"
    args = ["--store", f"sqlite:///{db}", "--handlers", str(queues_dir)]
    env = clean_env(CONVEYOR_JWT_SECRET=keys.hs_secret)
    token, reader = keys.token(["tester"]), keys.token(["system_reader"])
    serve = ServeProcess(args, env, tmp_path / "serve.log")
    accepted: list[str] = []
    try:
        serve.wait_healthy()
        assert ready(serve)
        assert fill(serve, token, accepted) == 5
        assert "database or disk is full" in serve.log(), serve.log()[-3000:]
        assert "Traceback" not in serve.log()
        wait_until_sync(
            lambda: not_ready_for_a_full_disk(serve, token, reader), "/readyz to answer 503", 30
        )

        # Space returns: ready again (a write succeeded, or the refusal is 5 s old), pushes
        # are accepted again and everything accepted completes.
        assert _mount("-o", "remount,size=16m", str(small_disk)).returncode == 0
        wait_until_sync(lambda: ready(serve), "/readyz to answer 200 again", 30)
        status, _, body = push(serve, token)
        assert status == 201, body
        accepted.append(body["id"])

        def all_complete() -> bool:
            return all(
                http_call("GET", f"{serve.url}/echo/{i}", token=token)[1]["status"] == "COMPLETE"
                for i in accepted
            )

        wait_until_sync(all_complete, "every accepted message to complete", 30, interval=0.2)
    finally:
        serve.close()

    # Read-only: one clear line and exit 3, not a traceback.
    assert _mount("-o", "remount,ro", str(small_disk)).returncode == 0
    done = conveyor("serve", "--port", "0", *args, env=env, timeout=60)
    assert done.returncode == 3, done.stderr[-3000:]
    assert "conveyor: cannot start: sqlite: cannot open" in done.stderr, done.stderr[-3000:]
    assert "Read-only file system" in done.stderr and "Traceback" not in done.stderr
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
