"""A full, then read-only, disk under the SQLite store, and the recovery when space returns.

``conveyor serve`` keeps its SQLite file on a small tmpfs this script mounts (root, and a
sandbox that allows ``mount -t tmpfs``). Steps:

1. push 8 KB messages until the file system is full: every answer must be 201 or 503 (with
   ``Retry-After``), and the log must say why (``database or disk is full``);
   then stay full ``--hold`` seconds (how much does it log?);
2. give space back (``mount -o remount,size=``): pushes are accepted again, and every
   accepted message completes;
3. read-only: a tmpfs cannot be remounted read-only while the server holds its files open
   for writing (EBUSY), so the server is stopped, the file system made read-only, and the
   server started on it: it must refuse to start with one clear line; read-write again and
   started, it accepts pushes;
4. stop the server: ``PRAGMA integrity_check`` is ``ok`` and the file holds exactly the
   accepted messages.

    sudo .venv/bin/python bench/disk_full.py --size-kib 2048
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from serving import Serve, wait_all_complete

BODY = {"n": 1, "pad": "x" * 8192}


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=False)


class Pushes:
    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.headers = {"Authorization": f"Bearer {serve.token()}"}
        self.answers: collections.Counter[str] = collections.Counter()
        self.accepted: list[str] = []
        self.no_retry_after = 0

    async def push(self, session: aiohttp.ClientSession) -> int:
        async with session.post(f"{self.serve.url}/bench", json=BODY, headers=self.headers) as r:
            body = await r.json(content_type=None)
            self.answers[str(r.status)] += 1
            if r.status == 201:
                self.accepted.append(body["id"])
            elif r.status == 503 and "Retry-After" not in r.headers:
                self.no_retry_after += 1
            return r.status

    async def until(self, status: int, most: int, pause: float = 0.0) -> int:
        """Push until one answer is ``status`` (at most ``most`` pushes); pushes made."""
        async with aiohttp.ClientSession() as session:
            for n in range(1, most + 1):
                if await self.push(session) == status:
                    return n
                await asyncio.sleep(pause)
        raise SystemExit(f"no {status} after {most} pushes: {dict(self.answers)}")


def log_lines(serve: Serve, needle: str) -> list[str]:
    return [line for line in serve.log.read_text().splitlines() if needle in line]


def start(serve: Serve) -> None:
    serve.proc = None
    serve.start()


async def full_then_space(
    serve: Serve, disk: Path, pushes: Pushes, args: argparse.Namespace
) -> None:
    full_after = await pushes.until(503, 5000)
    print(f"1. full after {full_after} pushes: answers {dict(pushes.answers)}")
    lines_before = len(serve.log.read_text().splitlines())
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - t0 < args.hold:
            await pushes.push(session)
            await asyncio.sleep(0.5)
    held = serve.log.read_text().splitlines()[lines_before:]
    print(f"   held full {args.hold:g} s: answers {dict(pushes.answers)}; {len(held)} log lines")
    for line in collections.Counter(line[24:110] for line in held).most_common(4):
        print(f"   log: {line[1]} x {line[0]}")
    mount("-o", f"remount,size={args.size_kib * 16}k", str(disk))
    t0 = time.monotonic()
    await pushes.until(201, 600, pause=0.1)
    print(f"2. space back: 201 again after {time.monotonic() - t0:.1f} s")
    counts = await wait_all_complete(serve.url, serve.token(), "bench", pushes.accepted, 120)
    print(f"   accepted {len(pushes.accepted)}, final statuses {counts}")


async def read_only_at_start(serve: Serve, disk: Path, pushes: Pushes) -> None:
    serve.stop()
    mount("-o", "remount,ro", str(disk))
    start(serve)
    assert serve.proc is not None
    try:
        code: int | None = serve.proc.wait(60)
    except subprocess.TimeoutExpired:
        code = None
    said = [line for line in serve.log.read_text().splitlines()[-5:] if "cannot start" in line]
    print(
        f"3. started on a read-only file system: exit {code}; {said[-1] if said else '(no line)'}"
    )
    if code is None:
        serve.stop()
    mount("-o", "remount,rw", str(disk))
    start(serve)
    await serve.ready()
    await pushes.until(201, 10)
    print("   read-write again, restarted: 201")


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="conveyor-disk-"))
    disk = work / "disk"
    disk.mkdir()
    mount("-t", "tmpfs", "-o", f"size={args.size_kib}k", "tmpfs", str(disk))
    serve = Serve(work, store=f"sqlite:///{disk / 'conveyor.db'}", extra=["--log-level", "info"])
    pushes = Pushes(serve)
    counts: dict[str, int] = {}
    try:
        serve.start()
        await serve.ready()
        await full_then_space(serve, disk, pushes, args)
        await read_only_at_start(serve, disk, pushes)
        counts = await wait_all_complete(serve.url, serve.token(), "bench", pushes.accepted, 120)
        print(
            f"   answers {dict(pushes.answers)}; 503s without Retry-After {pushes.no_retry_after}"
        )
        print(f"   accepted {len(pushes.accepted)}, final statuses {counts}")
    finally:
        code = serve.stop()
    with contextlib.closing(sqlite3.connect(disk / "conveyor.db")) as db:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    umount(disk)
    print(
        f"4. exit {code}; integrity_check: {check}; rows {rows} (accepted {len(pushes.accepted)})"
    )
    print(f"   serve log: {serve.log}")
    bad = sum(n for status, n in pushes.answers.items() if status not in ("201", "503"))
    ok = check == "ok" and rows == len(pushes.accepted) and not bad
    ok = ok and counts.get("COMPLETE", 0) == len(pushes.accepted) and not pushes.no_retry_after
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-kib", type=int, default=2048, help="the tmpfs's first size")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to stay full")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
