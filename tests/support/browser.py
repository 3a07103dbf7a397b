"""Shared pieces of the browser tests: the system Chromium driven by Playwright.

Playwright downloads no browser here: it launches Debian's ``/usr/bin/chromium``. Without it
a browser test skips locally and fails in CI (``tests.support.services.unavailable``; ``.ci/run``
installs it). Screenshots go to :data:`ARTIFACTS` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from tests.support.paths import ARTIFACTS
from tests.support.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium (the system's), closed when the block exits."""
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
