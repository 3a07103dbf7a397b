"""Shared pieces of the browser tests: the system Chromium driven by Playwright, the
``conveyor serve`` it is pointed at, and the calls and page steps the tests share.

Playwright downloads no browser here: it launches Debian's ``/usr/bin/chromium``. Without it
a browser test skips locally and fails in CI (``tests.support.services.unavailable``; ``.ci/run``
installs it). Screenshots go to :data:`ARTIFACTS` (git-ignored) unless a test names a folder.

Every served process checks tokens against :data:`HS_SECRET`, so :func:`token_for` mints tokens
for any of them (and for a :class:`tests.support.cluster.Cluster`'s gateway).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.support.api_client import http_call
from tests.support.paths import ARTIFACTS
from tests.support.processes import clean_env
from tests.support.serve import ServeProcess, healthy_serve, serve_args
from tests.support.services import unavailable
from tests.support.tokens import HS_SECRET, claims
from tests.support.waiting import wait_until_sync

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
LAPTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
#: The final states :func:`final` waits for.
FINAL = ("COMPLETE", "ERROR", "CANCELLED")


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


@contextmanager
def serve_process(tmp_path: Path, sources: Iterable[Path], *flags: str) -> Iterator[ServeProcess]:
    """A healthy ``conveyor serve`` on a SQLite store under ``tmp_path``, checking tokens
    against :data:`HS_SECRET`, with ``flags`` added; killed and reaped on exit.

    Its handlers folder (``tmp_path/handlers``) holds a copy of each of ``sources``: a file,
    or a folder's files (not its subfolders, e.g. ``__pycache__``)."""
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    for source in sources:
        for file in source.iterdir() if source.is_dir() else [source]:
            if file.is_file():
                shutil.copyfile(file, handlers / file.name)
    env = clean_env(CONVEYOR_JWT_SECRET=HS_SECRET)
    with healthy_serve(serve_args(tmp_path, handlers, *flags), env, tmp_path / "serve.log") as proc:
        yield proc


def token_for(roles: Sequence[str], sub: str = "tester") -> str:
    """A token :data:`HS_SECRET` signs for ``sub`` with ``roles``, valid 15 minutes."""
    return jwt.encode({**claims(roles, ttl=900), "sub": sub}, HS_SECRET, algorithm="HS256")


def push(served: ServeProcess, queue: str, body: Any, token: str, query: str = "") -> str:
    """POST ``body`` to ``queue`` (``query``: e.g. ``?delay=60``); asserts 201, the id."""
    status, answer = http_call("POST", f"{served.url}/{queue}{query}", body, token=token)
    assert status == 201, answer
    return str(answer["id"])


def final(served: ServeProcess, queue: str, message_id: str, token: str) -> dict[str, Any]:
    """The message's record once it is in one of the :data:`FINAL` states."""

    def done() -> dict[str, Any] | None:
        status, record = http_call("GET", f"{served.url}/{queue}/{message_id}", token=token)
        assert status == 200, record
        return record if record["status"] in FINAL else None

    return wait_until_sync(done, f"{queue}/{message_id} to finish")


class Watched:
    """A page with its console messages, errors, requests and dialogs recorded."""

    def __init__(self, browser: Browser, viewport: ViewportSize) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.console: list[ConsoleMessage] = []
        self.errors: list[str] = []
        self.requests: list[Request] = []
        self.dialogs: list[str] = []
        # (Playwright wraps each listener, so they must be plain functions, not bound builtins.)
        self.page.on("console", lambda message: self.console.append(message))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("dialog", lambda dialog: self.dialogs.append(dialog.message))

    def csp_violations(self) -> list[str]:
        return [m.text for m in self.console if "Content Security Policy" in m.text]

    def assert_clean(self, token: str | None) -> None:
        """No CSP violation, script error or dialog, no cookie, and ``token`` in no URL."""
        violations = self.csp_violations()
        assert not violations, violations
        assert not self.errors, self.errors
        assert not self.dialogs, self.dialogs  # nothing ever alert()ed, injected or not
        assert self.context.cookies() == []
        if token:
            assert not [r.url for r in self.requests if token in r.url]

    def close(self) -> None:
        self.context.close()


def paste_token(page: Page, token: str) -> None:
    """Paste ``token`` into the dashboard's header; wait until the page says it is set."""
    page.locator("#token-input").fill(token)
    page.locator("#token-use").click()
    expect(page.locator("#token-state")).to_have_text("Token set for this tab.")


def shot(page: Page, name: str, folder: Path = ARTIFACTS) -> Path:
    """A full-page screenshot as ``folder/name`` (the folder made if need be); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=path, full_page=True)
    return path
