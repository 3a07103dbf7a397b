"""Pure values of the domain: message records, ids, idempotency keys, progress, outcomes, cron
arithmetic and JSON payloads. No I/O, no adapters."""
