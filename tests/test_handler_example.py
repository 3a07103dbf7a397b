"""Handlers unit-tested with conveyor.testing: no server, no store, no broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor import Context, ValidationFailed
from conveyor.testing import FakeMessaging, ProgressRecorder, make_context
from handlers.orders import OutOfStock, handle

HANDLERS = Path(__file__).parent.parent / "handlers"


async def test_an_order_is_priced() -> None:
    ctx = make_context(queue="orders")
    result = await handle({"sku": "apple", "quantity": 2}, ctx)
    assert result == {"order": ctx.id, "sku": "apple", "quantity": 2, "total": 60}


async def test_an_unknown_sku_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="kiwi"):
        await handle({"sku": "kiwi", "quantity": 1}, make_context(queue="orders"))


# A handler that pushes an order per line (yours would be imported from handlers/).
async def checkout(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    lines = message["lines"]
    for n, line in enumerate(lines, 1):
        if ctx.cancelled.is_set():
            return {"orders": n - 1, "cancelled": True}
        await ctx.messaging.push("orders", line, idempotency_key=f"{ctx.id}:{n}")
        ctx.progress(n / len(lines))
    return {"orders": len(lines)}


async def test_checkout_pushes_one_order_per_line() -> None:
    messaging = FakeMessaging(HANDLERS)  # the queue definitions: pushes are validated
    progress = ProgressRecorder()
    ctx = make_context(queue="checkout", messaging=messaging, progress=progress)
    lines = [{"sku": "apple", "quantity": 1}, {"sku": "pear", "quantity": 3}]
    assert await checkout({"lines": lines}, ctx) == {"orders": 2}
    assert [(p.queue, p.message) for p in messaging.pushes] == [("orders", x) for x in lines]
    assert [r["status"] for r in messaging.records("orders")] == ["PENDING", "PENDING"]
    assert progress.reports == [(0.5, None), (1.0, None)]


async def test_checkout_fails_on_an_order_the_schema_refuses() -> None:
    ctx = make_context(messaging=FakeMessaging(HANDLERS))
    with pytest.raises(ValidationFailed) as failed:
        await checkout({"lines": [{"sku": "apple", "quantity": 0}]}, ctx)
    assert failed.value.errors == [
        {"path": "$.quantity", "message": "0 is less than the minimum of 1"}
    ]


async def test_a_cancelled_checkout_stops_pushing() -> None:
    messaging = FakeMessaging(HANDLERS)
    ctx = make_context(messaging=messaging, cancelled=True)
    assert await checkout({"lines": [{"sku": "apple", "quantity": 1}]}, ctx) == {
        "orders": 0,
        "cancelled": True,
    }
    assert messaging.pushes == []
