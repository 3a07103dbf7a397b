"""A record's delivery state is computed from its status and ``not_before``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.domain.message import DeliveryState, MessageRecord, Status, utcnow


def test_pending_is_delayed_before_not_before_then_queued() -> None:
    now = utcnow()
    record = MessageRecord.new("q", {}, not_before=now + timedelta(seconds=5))
    assert record.delivery_at(now) is DeliveryState.DELAYED
    assert record.delivery_at(now + timedelta(seconds=5)) is DeliveryState.QUEUED
    assert MessageRecord.new("q", {}).delivery_at(now) is DeliveryState.QUEUED
    assert record.to_public()["delivery"] == "delayed"


def test_only_pending_has_a_delivery_state() -> None:
    record = MessageRecord.new("q", {})
    for status in (Status.INPROGRESS, Status.COMPLETE, Status.ERROR, Status.CANCELLED):
        assert replace(record, status=status).delivery is None
        assert replace(record, status=status).to_public()["delivery"] is None


def test_parked_is_defined_for_later() -> None:
    assert DeliveryState("parked") is DeliveryState.PARKED
