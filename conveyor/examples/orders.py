"""An example that uses ``ctx`` and shows a failure.

Known SKUs are priced; an unknown SKU raises :class:`OutOfStock`, so the message ends
``ERROR`` with ``{"type": "OutOfStock", "message": ...}``.
"""

from __future__ import annotations

from typing import Any

from conveyor import Context

PRICES = {"apple": 30, "pear": 45}


class OutOfStock(Exception):
    """The SKU is not sold here."""


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Price the order; raise OutOfStock for an unknown SKU."""
    sku, quantity = message["sku"], message["quantity"]
    ctx.log.info("pricing %d x %s (attempt %d)", quantity, sku, ctx.attempt)
    if sku not in PRICES:
        raise OutOfStock(f"no stock of {sku!r}")
    return {"order": ctx.id, "sku": sku, "quantity": quantity, "total": PRICES[sku] * quantity}
