"""The browser every browser test drives; each module's ``served`` fixture starts its own
``conveyor serve`` with :func:`tests.support.browser.serve_process`.

Playwright is imported inside the fixture: pytest loads this file whenever it collects
``tests/browser``, also where Playwright is not installed and the browser modules themselves
are left out (``scripts/test-min-versions.sh`` ignores the files that import it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium (the system's) for one test."""
    from tests.support.browser import chromium

    with chromium() as launched:
        yield launched
