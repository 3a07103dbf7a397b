"""The settings every daemon (``serve``, ``gateway``, ``consumer``) takes: where records and
messages live, where the handlers are, logging, and start-up and recovery timings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.platform.settings import values
from shared.platform.settings.declare import DAEMONS, option

#: The store when none is given: a file in the working directory (which always exists).
DEFAULT_STORE = "sqlite:///./conveyor.db"


@dataclass(frozen=True, repr=False)
class ProcessOptions:
    """Declarations (``declare.option``) of the settings every daemon takes."""

    store: str = option(
        DEFAULT_STORE,
        values.store_url,
        "record store: sqlite:///PATH (its directory must exist) or mongodb://…",
        (*DAEMONS, "token"),
        doc="record store: `sqlite:///PATH` (embedded; PATH's directory must exist) or "
        "`mongodb://…`",
    )
    broker: str | None = option(
        None,
        values.broker_url,
        "RabbitMQ URL amqp://…; gateway and consumer need one (serve: in-process when absent)",
        (*DAEMONS, "release-prefix"),
        doc="RabbitMQ URL `amqp://…`; required by `gateway` and `consumer`; `serve` uses "
        "in-process delivery when absent",
    )
    handlers: Path = option(
        Path("./handlers"),
        Path,
        "directory of *.queue.json definitions and their handlers",
        (*DAEMONS, "check"),
        doc="directory of `*.queue.json` definitions and their handlers",
        shown="./handlers",
    )
    log_level: str = option(
        "INFO",
        values.log_level,
        "debug, info, warning or error",
        (*DAEMONS, "token", "check"),
        doc="debug, info, warning, error",
    )
    log_format: str = option(
        "text",
        values.log_format,
        "text, or json (one JSON object per line)",
        DAEMONS,
        doc="`text`, or `json`: one JSON object per line",
    )
    event_loop: str = option(
        "auto",
        values.event_loop,
        "auto (uvloop where installed, else asyncio), asyncio, or uvloop",
        DAEMONS,
        doc="`auto`: uvloop where installed (a dependency on Linux and macOS under CPython; "
        "measured faster on pushes, see `bench/README.md`), else asyncio; `asyncio`: the "
        "standard library's loop; `uvloop`: uvloop or a start-up error",
    )
    processes: int = option(
        1,
        values.positive_int,
        "run N processes of this command (children sharing --port), restarted if they die",
        ("gateway", "consumer"),
        doc="run N child processes of this command under one parent that restarts a child "
        "that dies and passes SIGTERM/SIGINT/SIGHUP on; gateway children share `--port` "
        "(`SO_REUSEPORT`); each child has its own connections, limits and metrics, child *i* "
        "on `--metrics-port` + *i*; 1 = one process, no parent "
        "([processes per core](#processes-per-core)); `serve` refuses it",
    )
    queue_prefix: str = option(
        "conveyor.",
        values.text,
        "RabbitMQ queue name prefix; one per store (another store's process refuses to start)",
        (*DAEMONS, "release-prefix"),
        doc="RabbitMQ queue name prefix; bound to the first store that uses it, so each store "
        "needs its own ([one prefix per store](#one-queue-prefix-per-store))",
    )
    delivery_limit: int = option(
        5, values.positive_int, "RabbitMQ deliveries before dead-lettering", DAEMONS
    )
    mongo_database: str = option(
        "conveyor", values.text, "MongoDB database name", DAEMONS, doc="MongoDB database"
    )
    mongo_collection: str = option(
        "messages",
        values.text,
        "MongoDB collection for messages",
        DAEMONS,
        doc="MongoDB collection",
    )
    lease_seconds: float = option(
        30.0,
        values.positive_float,
        "how long a claim holds before others may take over",
        DAEMONS,
        doc="how long a claim holds without renewal before another consumer may take over",
    )
    republish_after_seconds: float = option(
        60.0,
        values.positive_float,
        "republish unpublished PENDING this old",
        DAEMONS,
        doc="republish never-published `PENDING` records this old",
    )
    redeliver_after_seconds: float = option(
        300.0,
        values.positive_float,
        "re-deliver queued PENDING unclaimed this long and missing from the broker",
        DAEMONS,
        doc="re-deliver a queued `PENDING` record (published, due) unclaimed this long, while "
        "the broker holds fewer ready messages for its queue than the store holds queued "
        "records, at most that difference, oldest first (a purged queue, a foreign consumer, "
        "a broker restarted without its data; see [reliability](reliability.md))",
    )
    reload_interval_seconds: float = option(
        1.0,
        values.non_negative_float,
        "seconds between checks of --handlers for changes (hot reload; 0: only on SIGHUP)",
        DAEMONS,
        doc="seconds between checks of `--handlers` for changes "
        "([hot reload](queues-and-handlers.md#hot-reload)); 0 = only on SIGHUP",
    )
    start_timeout_seconds: float = option(
        60.0,
        values.non_negative_float,
        "at start, keep retrying an unreachable store or broker this long, then exit (0: once)",
        DAEMONS,
        doc="at start, how long to keep retrying a store (MongoDB) or broker (RabbitMQ) that "
        "cannot be reached, one WARNING line per attempt, before exiting 3 with one line; "
        "0 = one attempt ([start-up errors](#start-up-errors))",
    )
    #: The scheduler's clock is read from this file (``shared.platform.clock.FileClock``).
    test_clock_file: Path | None = option(
        None,
        Path,
        "TEST ONLY, never in production: cron schedules read the time from this file",
        DAEMONS,
        doc="**tests only**: cron schedules read the time (RFC 3339) from this file (see "
        "Cron schedules)",
    )
