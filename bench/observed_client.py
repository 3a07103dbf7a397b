"""The ``observed`` benchmark's load generator, one process of it (its CPU is not counted).

``python -m bench.observed_client BASE MESSAGES CLIENTS TOKENS_FILE [STYLE]`` opens
``CLIENTS`` keep-alive connections to ``BASE`` and, once every client has sent one warm-up
message, prints ``READY`` and waits for a line on standard input. Then each client in turn
takes the next of ``MESSAGES`` messages: ``POST /bench``, then ``GET /bench/{id}?wait=30``
until the record is final (STYLE ``get-wait``, the default), or ``POST /bench?wait=30``
alone (STYLE ``post-wait``; a ``GET ?wait`` follows only if that answer is not final); the
time from sending the POST to reading the final record is one sample.
At the end it prints one JSON line: the samples (seconds), its first push and last answer
(``time.monotonic()``, system-wide on Linux, so processes can be compared) and its own CPU
seconds. Any answer but 201 to a push, or a final status but ``COMPLETE``, exits 1.

It runs on uvloop when installed and sends a pre-encoded body, to stay cheap beside the
processes it measures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

FINAL = ("COMPLETE", "ERROR", "CANCELLED")
BODY = json.dumps({"hello": "there", "world": "yes", "n": 1}).encode()


class Quota:
    """The messages left to send, shared by the clients of this process."""

    def __init__(self, messages: int) -> None:
        self.left = messages

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def one(
    session: aiohttp.ClientSession, base: str, token: str, post_wait: bool = False
) -> float:
    """Push one message and read it until final; seconds from the POST to the final answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    push = f"{base}/bench?wait=30" if post_wait else f"{base}/bench"
    async with session.post(push, data=BODY, headers=headers) as resp:
        record: dict[str, Any] = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"push answered {resp.status}: {record}")
    while record["status"] not in FINAL:
        url = f"{base}/bench/{record['id']}?wait=30"
        async with session.get(url, headers=headers) as resp:
            record = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"GET answered {resp.status}: {record}")
    if record["status"] != "COMPLETE":
        raise RuntimeError(f"message ended {record['status']}: {record}")
    return time.perf_counter() - started


async def run(
    base: str, messages: int, clients: int, tokens: list[str], post_wait: bool = False
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(
            *(one(session, base, tokens[n % len(tokens)], post_wait) for n in range(clients))
        )
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        quota, samples = Quota(messages), []

        async def client(token: str) -> None:
            while quota.take():
                samples.append(await one(session, base, token, post_wait))

        cpu, began = time.process_time(), time.monotonic()
        await asyncio.gather(*(client(tokens[n % len(tokens)]) for n in range(clients)))
        ended = time.monotonic()
        return {
            "samples": samples,
            "began": began,
            "ended": ended,
            "cpu": time.process_time() - cpu,
        }


def main() -> None:
    base, messages, clients, tokens_file = sys.argv[1:5]
    style = sys.argv[5] if len(sys.argv) > 5 else "get-wait"
    if style not in ("get-wait", "post-wait"):
        raise SystemExit(f"unknown style {style!r}: get-wait or post-wait")
    tokens = json.loads(Path(tokens_file).read_text())
    coroutine = run(base, int(messages), int(clients), tokens, style == "post-wait")
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coroutine)
    else:
        result = uvloop.run(coroutine)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
