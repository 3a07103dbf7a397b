"""One table maps the messaging service's errors to HTTP answers (unit tests of
``gateway.http.errors``; the HTTP suites check the same statuses end to end)."""

from __future__ import annotations

import json

import pytest

from gateway.http.errors import STATUS_OF, error_response, messaging_error, status_of
from shared.service import (
    Conflict,
    KeyInProgress,
    KeyReused,
    MessagingError,
    NotFound,
    TooLarge,
    Unavailable,
    UnknownQueue,
    ValidationFailed,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownQueue("q"), 404),
        (NotFound("m"), 404),
        (ValidationFailed([{"path": "$", "message": "no"}]), 422),
        (KeyReused("k"), 422),
        (TooLarge("big"), 413),
        (KeyInProgress("k"), 409),
        (Conflict("c"), 409),
        (Unavailable("down"), 503),
    ],
)
def test_each_messaging_error_has_one_status(error: MessagingError, status: int) -> None:
    assert status_of(error) == status


def test_every_messaging_error_class_is_in_the_table() -> None:
    def subclasses(cls: type[MessagingError]) -> set[type[MessagingError]]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    assert subclasses(MessagingError) <= set(STATUS_OF)


def test_unknown_queue_is_404_whatever_the_operation() -> None:
    answer = messaging_error(UnknownQueue("unknown queue 'nope'"))
    assert (answer.status, answer.errors) == (404, [{"message": "unknown queue 'nope'"}])


def test_validation_errors_are_listed_as_they_are() -> None:
    items = [{"path": "$.a", "message": "bad"}, {"path": "$.b", "message": "worse"}]
    assert messaging_error(ValidationFailed(items)).errors == items


@pytest.mark.parametrize("status", [503])
def test_every_503_carries_retry_after(status: int) -> None:
    plain = error_response(status, ["the message store is unavailable"])
    assert plain.headers["Retry-After"] == "1"
    assert plain.content_type == "application/problem+json"
    assert json.loads(plain.text or "") == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the message store is unavailable",
        "errors": [{"message": "the message store is unavailable"}],
    }
    mapped = messaging_error(Unavailable("down"))
    assert error_response(mapped.status, mapped.errors, mapped.headers).headers["Retry-After"]


def test_a_key_in_progress_says_when_to_retry() -> None:
    answer = messaging_error(KeyInProgress("busy"))
    assert answer.headers == {"Retry-After": "1"}
    assert error_response(409, ["other conflict"]).headers.get("Retry-After") is None
