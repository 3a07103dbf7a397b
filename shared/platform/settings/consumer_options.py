"""The settings of the consumer side (``serve`` and ``consumer``): which queues, how many
messages at once, shutdown grace, ``ctx.auth``'s token endpoint and recovery sweeps."""

from __future__ import annotations

from dataclasses import dataclass

from shared.platform.settings import values
from shared.platform.settings.declare import CONSUMING, option


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
    sweep_interval_seconds: float = option(
        15.0,
        values.positive_float,
        "consumer: seconds between recovery sweeps",
        CONSUMING,
    )
    rollup_flush_seconds: float = option(
        10.0,
        values.positive_float,
        "consumer: seconds between writes of the per-minute run counts (dashboard charts)",
        CONSUMING,
    )
