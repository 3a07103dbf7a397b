"""The settings of the consumer side (``serve`` and ``consumer``): which queues, how many
messages at once, shutdown grace, ``ctx.auth``'s token endpoint and recovery sweeps; and the
timings of the consumers' heartbeats (``GET /workers``, which the gateway side reads)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.platform.settings import values
from shared.platform.settings.declare import CONSUMING, DAEMONS, HTTP, option


@dataclass(frozen=True, repr=False)
class ConsumerOptions:
    """Declarations (``declare.option``) of the consumer side's settings."""

    queues: tuple[str, ...] = option(
        (),
        values.csv,
        "consumer: only these queues (comma-separated); default all",
        CONSUMING,
        doc="consumer: only these queues (comma-separated)",
        shown="all",
    )
    concurrency: int = option(
        16,
        values.positive_int,
        "consumer: messages run at once per queue (prefetch)",
        CONSUMING,
    )
    grace_seconds: float = option(
        30.0,
        values.positive_float,
        "on SIGTERM, how long in-flight handlers may finish",
        CONSUMING,
    )
    token_url: str | None = option(
        None,
        values.text,
        "OAuth2 token endpoint for ctx.auth (client credentials)",
        CONSUMING,
        doc="OAuth2 token endpoint for `ctx.auth`",
    )
    audit_retention_days: int = option(
        90,
        values.positive_int,
        "days an audit log entry is kept (the consumers' expiry sweep deletes older ones)",
        CONSUMING,
        doc="days an entry of the audit log (`GET /audit`) is kept; the consumers' expiry "
        "sweep deletes older ones about once a minute",
    )
    sweep_interval_seconds: float = option(
        15.0,
        values.positive_float,
        "consumer: seconds between recovery sweeps",
        CONSUMING,
    )
    worker_heartbeat_seconds: float = option(
        5.0,
        values.positive_float,
        "consumer: seconds between heartbeats to the store (GET /workers)",
        CONSUMING,
    )
    worker_gone_seconds: float = option(
        30.0,
        values.positive_float,
        "GET /workers: a worker without a heartbeat this long is gone",
        HTTP,
    )
    worker_forget_seconds: float = option(
        3600.0,
        values.positive_float,
        "a gone worker is deleted from the store (and GET /workers) after this long",
        DAEMONS,
    )
    rollup_flush_seconds: float = option(
        10.0,
        values.positive_float,
        "consumer: seconds between writes of the per-minute run counts (dashboard charts)",
        CONSUMING,
    )
