"""``shared.domain.record_wire``: a whole record as JSON text and back, equal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.domain.message import ErrorInfo, History, MessageRecord, Progress, Status, Transition
from shared.domain.record_wire import record_from_text, record_to_text


def test_every_field_round_trips() -> None:
    plain = MessageRecord.new("q", {"big": 2**70, "s": "ü ☃ \ud800"}, request_id="r-1")
    at = plain.created_at + timedelta(microseconds=123_457)
    full = replace(
        plain,
        status=Status.ERROR,
        result=[1, {"x": None}],
        error=ErrorInfo("KeyError", "1", "Traceback ...\n"),
        updated_at=at,
        attempts=2,
        not_before=at,
        version=9,
        progress=Progress(0.5, "half", at.replace(microsecond=123_000)),
        history=History([*plain.history, Transition(at.replace(microsecond=0), Status.ERROR, 2)]),
        cancel_requested=True,
    )
    for record in (plain, full):
        back = record_from_text(record_to_text(record))
        assert back == record
        assert back.to_public(tracebacks=True) == record.to_public(tracebacks=True)


@pytest.mark.parametrize("text", ["{}", '{"id": "m"}', "[]", "nope"])
def test_a_malformed_document_raises(text: str) -> None:
    with pytest.raises((ValueError, LookupError, TypeError, AttributeError)):
        record_from_text(text)


def test_the_traceback_is_carried_for_the_gateway_to_filter() -> None:
    record = replace(MessageRecord.new("q", 1), error=ErrorInfo("E", "m", "trace"))
    assert json.loads(record_to_text(record))["error"]["traceback"] == "trace"
