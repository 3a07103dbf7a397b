"""How the push views answer the messaging core's errors (shared by single and batch pushes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import ApiError
from shared.messaging import TooLarge, Unavailable, UnknownQueue, ValidationFailed


@contextmanager
def push_errors(queue: str) -> Iterator[None]:
    """Turn messaging errors into ApiError: 422, 404, 503 (with Retry-After) or 413."""
    try:
        yield
    except ValidationFailed as exc:
        raise ApiError(422, *exc.errors) from None
    except UnknownQueue:
        raise ApiError(404, f"unknown queue {queue!r}") from None
    except Unavailable as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None
    except TooLarge as exc:
        raise ApiError(413, str(exc)) from None


def location(queue: str, message_id: str) -> str:
    """The ``Location`` of a message."""
    return f"/{queue}/{message_id}"
