"""The harness's client side: a steady stream of pushes, and the final read of every record.

Pushes go out at a fixed rate whatever happens to the gateway (one task per push, so a
slow answer does not delay the next push); each outcome is kept with its wall-clock times:
the HTTP status, or 0 when no answer came (connection refused or cut, timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt

from tests.process.chaos.cluster import QUEUE, ROLE

NO_ANSWER = 0  # the status recorded when no HTTP answer came
FINAL = frozenset({"COMPLETE", "ERROR"})


@dataclasses.dataclass(frozen=True)
class Push:
    """One push: sent and answered (wall clock), status (0: none), the id if accepted."""

    sent: float
    done: float
    status: int
    message_id: str | None


def token(secret: str) -> str:
    """A signed HS256 token with the queue's role, valid for a day."""
    now = int(time.time())
    claims = {"sub": "chaos", "roles": [ROLE], "iat": now, "exp": now + 86400}
    return jwt.encode(claims, secret, algorithm="HS256")


class Pusher:
    """Pushes ``count`` messages at ``rate`` per second to the gateway at ``base``."""

    def __init__(
        self, base: str, bearer: str, runs_log: Path, max_seconds: float, seed: int
    ) -> None:
        self.base, self.runs_log, self.max_seconds = base, runs_log, max_seconds
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.random = random.Random(seed)
        self.pushes: list[Push] = []

    async def _one(self, session: aiohttp.ClientSession) -> None:
        body = {"log": str(self.runs_log), "seconds": self.random.uniform(0, self.max_seconds)}
        sent = time.time()
        status, message_id = NO_ANSWER, None
        try:
            async with session.post(
                f"{self.base}/{QUEUE}", json=body, headers=self.headers
            ) as resp:
                status = resp.status
                answer: Any = await resp.json(content_type=None)
                if status == 201:
                    message_id = str(answer["id"])
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass  # no (complete) answer: recorded as status 0, or the status without a body
        self.pushes.append(Push(sent, time.time(), status, message_id))

    async def run(self, count: int, rate: float) -> None:
        """Push ``count`` messages, the i-th at ``start + i / rate``; return when all answered."""
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            start = time.monotonic()
            tasks: list[asyncio.Task[None]] = []
            for i in range(count):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self._one(session)))
            await asyncio.gather(*tasks)

    def save(self, path: Path) -> None:
        """Every push as a line: sent, answered, status (0: no answer), id or ``-``."""
        lines = [
            f"{p.sent:.6f} {p.done:.6f} {p.status} {p.message_id or '-'}\n" for p in self.pushes
        ]
        path.write_text("".join(sorted(lines)))

    def accepted(self) -> list[str]:
        return [p.message_id for p in self.pushes if p.message_id is not None]

    def first_accepted_after(self, when: float) -> float | None:
        """When the first push sent at or after ``when`` was accepted (its answer time)."""
        times = [p.done for p in self.pushes if p.status == 201 and p.sent >= when]
        return min(times, default=None)


async def final_records(
    base: str, bearer: str, ids: list[str], within: float
) -> dict[str, dict[str, Any] | None]:
    """Each id's record once every one is final or ``within`` seconds have passed (None: 404)."""
    headers = {"Authorization": f"Bearer {bearer}"}
    records: dict[str, dict[str, Any] | None] = {}
    open_ids = list(ids)
    deadline = time.monotonic() + within
    gate = asyncio.Semaphore(8)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def read(message_id: str) -> None:
            async with gate:
                try:
                    async with session.get(f"{base}/{QUEUE}/{message_id}", headers=headers) as r:
                        if r.status == 404:
                            records[message_id] = None
                        elif r.status == 200:
                            records[message_id] = await r.json()
                except (aiohttp.ClientError, TimeoutError):
                    pass  # read again on the next pass

        while True:
            await asyncio.gather(*(read(i) for i in open_ids))
            open_ids = [i for i in open_ids if not _final(records.get(i, {}))]
            if not open_ids or time.monotonic() >= deadline:
                return records
            await asyncio.sleep(1.0)


def _final(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") in FINAL
