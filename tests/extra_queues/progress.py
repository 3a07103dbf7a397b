"""Reports progress step by step (async), each step gated by the test.

Message ``{"steps": [F, ...], "gate": PREFIX}``: for each step ``i`` it calls
``ctx.progress(F, note="step i")`` and waits (at most 60 s) until the file ``PREFIX.i``
exists, then returns ``{"steps": n}``. Message ``{"bad": X}``: calls ``ctx.progress(X)``
(a ValueError for a fraction outside 0-1 fails the message).
"""

import asyncio
from pathlib import Path
from typing import Any

from conveyor import Context


def _exists(path: Path) -> bool:
    return path.exists()


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if "bad" in message:
        ctx.progress(message["bad"])
        return {"accepted": message["bad"]}
    steps = message["steps"]
    for i, fraction in enumerate(steps):
        ctx.progress(fraction, note=f"step {i}")
        gate = Path(f"{message['gate']}.{i}")
        for _ in range(3000):
            if _exists(gate):
                break
            await asyncio.sleep(0.02)
        else:
            raise TimeoutError(f"the test never opened {gate}")
    return {"steps": len(steps)}
