"""Run mongoeco's MongoDB wire-protocol server (needs Python >= 3.13 and mongoeco[wire]).

Usage: ``python tests/support/mongo_wire.py --port 27018 [--sqlite FILE]``. Runs until
SIGTERM/SIGINT. In memory by default; with ``--sqlite`` the data lives in FILE, so a server
stopped and started again on the same file keeps it (store outage tests).
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def serve(port: int, sqlite: str | None) -> None:
    from mongoeco.engines import (  # type: ignore[import-not-found, unused-ignore]
        MemoryEngine,
        SQLiteEngine,
    )
    from mongoeco.wire import AsyncMongoEcoProxyServer  # type: ignore[import-not-found, unused-ignore]

    engine = SQLiteEngine(sqlite) if sqlite else MemoryEngine()
    server = AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sqlite", help="keep the data in this SQLite file")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.sqlite))


if __name__ == "__main__":
    main()
