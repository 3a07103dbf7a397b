"""Uses ``ctx.messaging`` on another queue, as the message says.

``{"op": "push", "queue": Q, "body": B, "key": K?}`` → ``{"pushed": record}`` (with
idempotency key K when given) or, when B breaks Q's schema, ``{"rejected": errors}``;
``{"op": "get", ..., "wait": S?}`` → ``{"record": ...}``; ``{"op": "delete", ...}`` →
``{"deleted": bool}``; ``{"op": "redrive", ...}`` → ``{"redriven": record}`` or
``{"conflict": message}``; ``{"op": "cancel", ...}`` → ``{"cancelled": record}`` or
``{"conflict": message}``. Anything else (an unknown queue) raises.
"""

from typing import Any

from conveyor import Conflict, Context, ValidationFailed


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    op, queue = message["op"], message["queue"]
    if op == "push":
        try:
            key = message.get("key")
            return {"pushed": await ctx.messaging.push(queue, message["body"], idempotency_key=key)}
        except ValidationFailed as exc:
            return {"rejected": exc.errors}
    if op == "get":
        return {"record": await ctx.messaging.get(queue, message["id"], wait=message.get("wait"))}
    if op == "delete":
        return {"deleted": await ctx.messaging.delete(queue, message["id"])}
    if op == "redrive":
        try:
            return {"redriven": await ctx.messaging.redrive(queue, message["id"])}
        except Conflict as exc:
            return {"conflict": str(exc)}
    if op == "cancel":
        try:
            return {"cancelled": await ctx.messaging.cancel(queue, message["id"])}
        except Conflict as exc:
            return {"conflict": str(exc)}
    raise ValueError(f"unknown op {op!r}")
