"""``GET /ui`` and its assets over HTTP: the page is public, served under a strict
Content-Security-Policy (no ``unsafe-inline``), has no inline script or style, and links only
packaged files, each served with its content type and cached by digest. The script never
writes markup from data (no ``innerHTML`` and friends). tests/test_ui_browser.py renders it
in Chromium."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tests.conftest import Api
from tests.helpers import error_list

EMBEDDED = pytest.mark.parametrize("mode", ["embedded"], indirect=True)  # HTTP only
UI_STATIC = resources.files("gateway") / "static" / "ui"


def linked(page: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r"""(?:src|href)="([^"]+)\"""", page)]


@EMBEDDED
async def test_ui_page_is_public_under_a_strict_csp(api: Api) -> None:
    resp = await api.get("/ui")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "form-action 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = await resp.text()
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # every script is a file
    assets = [u for u in linked(page) if u.startswith("/ui/assets/")]
    assert len(assets) == 3
    for url in assets:
        got = await api.get(url)
        assert got.status == 200, url
        assert "immutable" in got.headers["Cache-Control"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    await error_list(await api.get("/ui/assets/nothing.js"), 404)


def test_ui_script_never_writes_markup() -> None:
    script = UI_STATIC.joinpath("ui.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "localStorage" not in script and "document.cookie" not in script
    css = UI_STATIC.joinpath("ui.css").read_text()
    assert "@import" not in css and "url(" not in css  # nothing fetched from elsewhere
