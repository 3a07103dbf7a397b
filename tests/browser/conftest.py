"""The browser every browser test drives; each module's ``served`` fixture starts its own
``conveyor serve`` with :func:`tests.support.browser.serve_process`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium (the system's) for one test."""
    with chromium() as launched:
        yield launched
