"""Schema validation time per valid message: jsonschema alone vs the compiled fast path.

``python -m bench.validate [--messages N] [--rounds K]`` loads bench/queues/bench.queue.json
as the gateway does (``shared.queues.definitions``), then times ``validation_errors`` on N
valid messages shaped like the push benchmark's, through plain jsonschema (before) and
through the definition's validator (jsonschema-rs's fast path, after), alternating K rounds.
Reports the median µs per message of each. CPU-bound and single-threaded: steady on a shared
machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from shared.domain.payloads import validation_errors
from shared.queues.definitions import parse_definition

QUEUE = Path(__file__).resolve().parent / "queues" / "bench.queue.json"


def _per_message(validator: Any, messages: list[Any]) -> float:
    start = time.perf_counter()
    for message in messages:
        if validation_errors(validator, message):
            raise SystemExit(f"not valid: {message}")
    return (time.perf_counter() - start) / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    definition = parse_definition(QUEUE, json.loads(QUEUE.read_text()))
    combined = definition.validator
    if combined.fast is None:
        raise SystemExit(f"{QUEUE.name}: no fast path compiled")
    messages = [{"hello": f"world {i}", "world": "x" * (i % 40), "n": i} for i in range(64)]
    messages = (messages * (args.messages // len(messages) + 1))[: args.messages]
    before, after = [], []
    for _ in range(args.rounds):
        before.append(_per_message(combined.checker, messages))
        after.append(_per_message(combined, messages))
    slow, fast = statistics.median(before), statistics.median(after)
    print(f"{QUEUE.name}: {args.messages} valid messages, median of {args.rounds} rounds")
    print(f"  jsonschema alone (before): {slow:7.2f} µs/message")
    print(f"  fast path (after):         {fast:7.2f} µs/message  ({slow / fast:.1f}x)")


if __name__ == "__main__":
    main()
