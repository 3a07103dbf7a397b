"""``python -m tests.process.chaos [--short] [--messages N] [--rate R] [--store mongo|sqlite] ...``

Exit status: 0 every invariant holds; 1 one is broken; 3 RabbitMQ or the MongoDB wire server
is not available (the reason is printed). ``--json FILE`` also writes the verdict as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.process.chaos.cluster import Unavailable
from tests.process.chaos.faults import Schedule
from tests.process.chaos.report import render
from tests.process.chaos.run import Options, chaos

UNAVAILABLE = 3
#: ``--short``: the CI version (a few hundred messages, about two minutes with the node's boot).
SHORT = {
    "messages": 300,
    "rate": 5.0,
    "settle_seconds": 90.0,
    "outage_gap": 5.0,
    "first_outage_after": 4.0,  # so that all three outages fit in the minute of pushes
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.process.chaos", description=__doc__)
    p.add_argument("--short", action="store_true", help="the CI version: 300 messages at 5/s")
    p.add_argument("--messages", type=int, help="messages to push (default 2000)")
    p.add_argument("--rate", type=float, help="pushes per second (default 8)")
    p.add_argument("--duration", type=float, help="push for this long: sets the rate")
    p.add_argument("--consumers", type=int, default=3)
    p.add_argument("--store", choices=["mongo", "sqlite"], default="mongo")
    p.add_argument("--lease-seconds", type=float, default=5.0)
    p.add_argument("--handler-seconds", type=float, default=1.0, help="longest handler run")
    p.add_argument("--settle-seconds", type=float, help="wait this long for all to be final")
    p.add_argument("--kill-every", type=float, default=3.0, help="seconds between consumer kills")
    p.add_argument("--outage-gap", type=float, help="calm seconds between outages (default 10)")
    p.add_argument("--broker-seconds", type=float, default=10.0, help="RabbitMQ outage length")
    p.add_argument("--store-seconds", type=float, default=8.0, help="store outage length")
    p.add_argument("--gateway-seconds", type=float, default=2.0, help="gateway down this long")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", type=Path, help="keep logs here (default: a new temp dir)")
    p.add_argument("--json", type=Path, help="also write the verdict here as JSON")
    return p


def options_from(args: argparse.Namespace) -> Options:
    preset = SHORT if args.short else {}
    messages = args.messages or preset.get("messages", 2000)
    rate = args.rate or preset.get("rate", 8.0)
    if args.duration:
        rate = messages / args.duration
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="conveyor-chaos-"))
    schedule = Schedule(
        kill_every=args.kill_every,
        outage_gap=args.outage_gap or preset.get("outage_gap", 10.0),
        first_outage_after=preset.get("first_outage_after", 6.0),
        broker_seconds=args.broker_seconds,
        store_seconds=args.store_seconds,
        gateway_seconds=args.gateway_seconds,
    )
    return Options(
        workdir=workdir,
        messages=int(messages),
        rate=float(rate),
        consumers=args.consumers,
        store=args.store,
        lease_seconds=args.lease_seconds,
        handler_seconds=args.handler_seconds,
        settle_seconds=args.settle_seconds or preset.get("settle_seconds", 180.0),
        seed=args.seed,
        schedule=schedule,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    try:
        outcome = asyncio.run(chaos(options))
    except Unavailable as exc:
        print(f"chaos harness: cannot run: {exc}", file=sys.stderr)
        return UNAVAILABLE
    print(render(options, outcome))
    if args.json is not None:
        document = {
            "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
            "seconds": outcome.seconds,
            "verdict": outcome.verdict.as_json(),
        }
        args.json.write_text(json.dumps(document, indent=2))
    return 1 if outcome.verdict.failures else 0


if __name__ == "__main__":
    sys.exit(main())
