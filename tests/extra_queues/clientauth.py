"""Returns an OAuth2 token for its queue's client_id (``ctx.auth``)."""

from typing import Any

from conveyor import Context


async def handle(message: Any, ctx: Context) -> dict[str, Any]:
    return {"token": await ctx.auth.token(), "client_id": ctx.auth.client_id}
