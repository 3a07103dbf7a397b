"""The definition keys beyond the original service: defaults and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.queues.definitions import DefinitionError, QueueOptions, RateLimit, parse_definition

PATH = Path("q.queue.json")


def definition(**extra: Any) -> dict[str, Any]:
    return {"name": "q", "incoming": {"schema": {}}, **extra}


def test_defaults_keep_the_original_behaviour() -> None:
    options = parse_definition(PATH, definition()).options
    assert options == QueueOptions()
    assert options.max_attempts == 1
    assert options.timeout_seconds is None
    assert options.result_ttl_seconds is None
    assert options.rate_limit is None
    assert options.when_paused == "accept"


def test_every_option_is_read() -> None:
    options = parse_definition(
        PATH,
        definition(
            timeout_seconds=2.5,
            max_attempts=4,
            retry_backoff_seconds=0.5,
            retry_backoff_max_seconds=10,
            result_ttl_seconds=3600,
            rate_limit={"requests": 10, "per_seconds": 1},
            when_paused="refuse",
        ),
    ).options
    expected = QueueOptions(2.5, 4, 0.5, 10.0, 3600.0, RateLimit(10, 1.0), when_paused="refuse")
    assert options == expected


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("timeout_seconds", 0, "timeout_seconds must be a positive number"),
        ("timeout_seconds", "5", "timeout_seconds must be a positive number"),
        ("max_attempts", 1.5, "max_attempts must be a positive integer"),
        ("max_attempts", True, "max_attempts must be a positive integer"),
        ("retry_backoff_seconds", -1, "retry_backoff_seconds must be a positive number"),
        ("result_ttl_seconds", 1e400, "result_ttl_seconds must be finite"),
        ("rate_limit", {"requests": 5}, "rate_limit must be"),
        ("rate_limit", {"requests": 0, "per_seconds": 1}, "requests must be a positive integer"),
        ("when_paused", "drop", 'when_paused must be "accept" or "refuse"'),
        ("when_paused", True, 'when_paused must be "accept" or "refuse"'),
    ],
)
def test_bad_values_name_the_key(key: str, value: Any, reason: str) -> None:
    with pytest.raises(DefinitionError, match=reason):
        parse_definition(PATH, definition(**{key: value}))


def test_backoff_cap_below_base_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="retry_backoff_max_seconds must be >="):
        parse_definition(PATH, definition(retry_backoff_seconds=10, retry_backoff_max_seconds=1))


def test_typos_are_still_rejected() -> None:
    with pytest.raises(DefinitionError, match="unknown key"):
        parse_definition(PATH, definition(max_attempt=3))
