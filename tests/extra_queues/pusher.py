"""Uses ``ctx.messaging`` on another queue, as the message says.

``{"op": "push", "queue": Q, "body": B}`` → ``{"pushed": record}`` or, when B breaks Q's
schema, ``{"rejected": errors}``; ``{"op": "get", ...}`` → ``{"record": ...}``;
``{"op": "delete", ...}`` → ``{"deleted": bool}``. Anything else (an unknown queue) raises.
"""

from typing import Any

from conveyor import Context, ValidationFailed


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    op, queue = message["op"], message["queue"]
    if op == "push":
        try:
            return {"pushed": await ctx.messaging.push(queue, message["body"])}
        except ValidationFailed as exc:
            return {"rejected": exc.errors}
    if op == "get":
        return {"record": await ctx.messaging.get(queue, message["id"])}
    if op == "delete":
        return {"deleted": await ctx.messaging.delete(queue, message["id"])}
    raise ValueError(f"unknown op {op!r}")
