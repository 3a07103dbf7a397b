"""Run mongoeco's MongoDB wire-protocol server (needs Python >= 3.13 and mongoeco[wire]).

Usage: ``python tests/mongo_wire.py --port 27018``. Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def serve(port: int) -> None:
    from mongoeco.engines import MemoryEngine  # type: ignore[import-not-found, unused-ignore]
    from mongoeco.wire import AsyncMongoEcoProxyServer  # type: ignore[import-not-found, unused-ignore]

    server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=port)
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
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
