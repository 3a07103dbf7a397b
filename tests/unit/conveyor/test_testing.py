"""``conveyor.testing``: a real ``Context`` from in-memory parts, and ``FakeMessaging``
answering like the ``ctx.messaging`` of a running Conveyor (compared against one in
``tests/api/test_conveyor_testing.py``)."""

from __future__ import annotations

import logging
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import conveyor
from conveyor import (
    ClientAuthError,
    Conflict,
    Context,
    DelayTooLong,
    KeyReused,
    NotFound,
    Status,
    UnknownQueue,
    ValidationFailed,
)
from conveyor.testing import FakeAuth, FakeMessaging, ProgressRecorder, make_context
from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.responses import assert_record

SEED = SEED_HANDLERS_DIR / "myQueue.queue.json"
REPORTS: dict[str, Any] = {
    "name": "reports",
    "incoming": {"schema": {"type": "object", "required": ["report"]}},
    "max_delay_seconds": 60,
    "schedules": [{"name": "nightly", "cron": "30 2 * * *", "message": {"report": "full"}}],
}


# --- the public types ----------------------------------------------------------------------


def test_the_parts_of_ctx_are_typed_by_names_conveyor_exports() -> None:
    hints = typing.get_type_hints(Context)
    assert hints["messaging"] is conveyor.Messaging
    assert hints["auth"] is conveyor.ClientAuth
    assert hints["cancelled"] is conveyor.CancelFlag
    assert {"Messaging", "ClientAuth", "ClientAuthError", "CancelFlag", "Json"} <= set(
        conveyor.__all__
    )
    for name in conveyor.__all__:
        assert getattr(conveyor, name) is not None


# --- make_context --------------------------------------------------------------------------


async def test_make_context_defaults(caplog: pytest.LogCaptureFixture) -> None:
    ctx = make_context(queue="orders")
    assert isinstance(ctx, Context)
    assert len(ctx.id) == 36 and ctx.queue == "orders" and ctx.attempt == 1
    assert ctx.request_id is None and dict(ctx.services) == {}
    assert isinstance(ctx.messaging, FakeMessaging)
    assert await ctx.auth.token() == "test-token"
    assert not ctx.cancelled.is_set()
    with caplog.at_level(logging.INFO, logger="conveyor.handler.orders"):
        ctx.log.info("working")
    (line,) = caplog.records
    assert (line.message_id, line.queue, line.attempt) == (ctx.id, "orders", 1)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match=r"make_context\(http=session\)"):
        ctx.http.get("http://example.invalid")


async def test_make_context_takes_each_part() -> None:
    messaging, progress = FakeMessaging(), ProgressRecorder()
    auth = FakeAuth("abc", client_id="billing")
    ctx = make_context(
        message_id="m-1",
        queue="q",
        attempt=3,
        messaging=messaging,
        progress=progress,
        auth=auth,
        services={"db": "conn"},
        request_id="req-1",
        cancelled=True,
    )
    assert (ctx.id, ctx.attempt, ctx.request_id, ctx.services["db"]) == ("m-1", 3, "req-1", "conn")
    assert ctx.messaging is messaging and ctx.auth is auth and ctx.progress is progress
    assert ctx.auth.client_id == "billing" and await ctx.auth.token() == "abc"
    assert ctx.cancelled.is_set() and ctx.cancelled.wait_sync(0)


async def test_the_cancelled_flag_is_set_by_the_test() -> None:
    ctx = make_context()
    ctx.cancelled.set()
    await ctx.cancelled.wait()
    assert ctx.cancelled.is_set()


def test_progress_is_recorded_and_checked_like_conveyor_does() -> None:
    progress = ProgressRecorder()
    ctx = make_context(progress=progress)
    ctx.progress(0.25)
    ctx.progress(1, "done " + "x" * 300)
    with pytest.raises(ValueError, match="from 0 to 1"):
        ctx.progress(1.5)
    assert progress.reports[0] == (0.25, None)
    assert progress.reports[1][0] == 1.0 and len(progress.reports[1][1] or "") == 200
    assert len(progress.reports) == 2


async def test_fake_auth_without_a_token_raises_client_auth_error() -> None:
    with pytest.raises(ClientAuthError, match="billing"):
        await make_context(auth=FakeAuth(None, client_id="billing")).auth.token()


# --- FakeMessaging -------------------------------------------------------------------------


async def test_without_definitions_any_queue_takes_any_message() -> None:
    messaging = FakeMessaging()
    body = {"any": ["thing"]}
    record = await messaging.push("anywhere", body)
    body["any"].append("changed later")  # the record keeps what was pushed
    assert_record(record, "anywhere")
    assert record["status"] == "PENDING" and record["request"] == {"any": ["thing"]}
    assert await messaging.get("anywhere", record["id"]) == record
    assert messaging.records("anywhere") == [record]
    (push,) = messaging.pushes
    assert (push.queue, push.message, push.record, push.created) == (
        "anywhere",
        {"any": ["thing"]},
        record,
        True,
    )
    with pytest.raises(TypeError):
        await messaging.push("anywhere", {"when": datetime.now(UTC)})  # not JSON


@pytest.mark.parametrize(
    "definitions",
    [(SEED,), (SEED_HANDLERS_DIR,), ({"name": "myQueue", "incoming": {"schema": {}}}, SEED)],
    ids=["file", "directory", "document-then-file"],
)
async def test_definitions_make_the_only_queues_and_validate_pushes(
    definitions: tuple[Any, ...],
) -> None:
    messaging = FakeMessaging(*definitions)
    with pytest.raises(UnknownQueue, match="'nowhere'"):
        await messaging.push("nowhere", {})
    with pytest.raises(UnknownQueue):
        await messaging.get("nowhere", "x")
    with pytest.raises(ValidationFailed) as failed:
        await messaging.push("myQueue", {"hello": 1, "extra": True})
    assert [e["path"] for e in failed.value.errors] == ["$", "$.hello"]
    assert messaging.pushes == []
    assert (await messaging.push("myQueue", {"hello": "x"}))["status"] == "PENDING"


async def test_an_idempotency_key_makes_one_message() -> None:
    messaging = FakeMessaging()
    first = await messaging.push("q", {"n": 1}, idempotency_key="k")
    again = await messaging.push("q", {"n": 1}, idempotency_key="k")
    assert again == first and [p.created for p in messaging.pushes] == [True, False]
    other = await messaging.push("q", {"n": 1}, idempotency_key="k2")
    assert other["id"] != first["id"]
    with pytest.raises(KeyReused, match="different body"):
        await messaging.push("q", {"n": 2}, idempotency_key="k")
    await messaging.delete("q", first["id"])
    with pytest.raises(Conflict, match="deleted"):
        await messaging.push("q", {"n": 1}, idempotency_key="k")


async def test_a_delay_is_kept_and_limited_by_the_definition() -> None:
    messaging = FakeMessaging(REPORTS)
    record = await messaging.push("reports", {"report": "x"}, delay=30)
    assert record["not_before"] is not None
    later = datetime.now(UTC) + timedelta(seconds=20)
    assert (await messaging.push("reports", {"report": "x"}, not_before=later))["not_before"]
    with pytest.raises(DelayTooLong, match="max_delay_seconds"):
        await messaging.push("reports", {"report": "x"}, delay=61)


async def test_schedules_are_the_definitions_as_get_queues_shows_them() -> None:
    messaging = FakeMessaging(REPORTS, SEED)
    (nightly,) = await messaging.schedules("reports")
    assert nightly["name"] == "nightly" and nightly["cron"] == "30 2 * * *"
    assert nightly["next_run"] and nightly["last_message_id"] is None
    assert await messaging.schedules("myQueue") == []
    assert await FakeMessaging().schedules("anything") == []


async def test_delete_get_cancel_and_redrive_follow_the_record() -> None:
    messaging = FakeMessaging()
    waiting = (await messaging.push("q", {"n": 1}))["id"]
    cancelled = await messaging.cancel("q", waiting)
    assert cancelled["status"] == "CANCELLED" and cancelled["version"] == 2
    assert [h["status"] for h in cancelled["history"]] == ["PENDING", "CANCELLED"]
    with pytest.raises(Conflict, match="CANCELLED"):
        await messaging.cancel("q", waiting)

    running = (await messaging.push("q", {"n": 2}))["id"]
    assert messaging.set_status("q", running, Status.INPROGRESS)["attempts"] == 1
    asked = await messaging.cancel("q", running)
    assert (asked["status"], asked["cancel_requested"]) == ("INPROGRESS", True)
    with pytest.raises(Conflict, match="only ERROR"):
        await messaging.redrive("q", running)
    failed = messaging.set_status("q", running, Status.ERROR, error=("Boom", "it broke"))
    assert failed["error"] == {"type": "Boom", "message": "it broke"}
    again = await messaging.redrive("q", running)
    assert (again["status"], again["attempts"], again["error"]) == ("PENDING", 0, None)
    assert again["cancel_requested"] is False
    done = messaging.set_status("q", running, Status.COMPLETE, result={"ok": True})
    assert await messaging.get("q", running, wait=5) == done  # final: as it is

    assert await messaging.delete("q", running) is True
    assert await messaging.delete("q", running) is False
    assert await messaging.get("q", running) is None
    for call in (messaging.cancel, messaging.redrive):
        with pytest.raises(NotFound):
            await call("q", running)
    with pytest.raises(NotFound):
        messaging.set_status("q", running, Status.COMPLETE)
