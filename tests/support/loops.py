"""The event loop the async tests run on."""

from __future__ import annotations

import os

#: The loop of the async tests (``tests/conftest.py``): CI runs a subset again with
#: ``CONVEYOR_EVENT_LOOP=uvloop`` (``.ci/run``).
EVENT_LOOP = os.environ.get("CONVEYOR_EVENT_LOOP", "asyncio")
