"""``GET /ui`` and its assets over HTTP: the page is public, served under a strict
Content-Security-Policy (no ``unsafe-inline``), has no inline script or style, and links only
packaged files, each served with its content type and cached by digest. The script (ES
modules under ``static/ui``, each served by its path there and nothing else) never writes
markup from data (no ``innerHTML`` and friends). tests/browser/test_ui.py renders it in
Chromium."""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable

import pytest
from yarl import URL

from tests.support.api_client import Api
from tests.support.responses import error_list

EMBEDDED = pytest.mark.parametrize("mode", ["embedded"], indirect=True)  # HTTP only
UI_STATIC = resources.files("gateway") / "static" / "ui"


def modules(folder: Traversable = UI_STATIC, prefix: str = "") -> dict[str, Traversable]:
    """Every script under static/ui by its path there: ``main.js``, ``pages/queue.js``."""
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= modules(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".js"):
            found[prefix + entry.name] = entry
    return found


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


@EMBEDDED
async def test_every_module_is_served_by_its_path_and_nothing_else(api: Api) -> None:
    found = modules()
    assert {"main.js", "router.js", "pages/queue.js", "pages/message.js"} <= set(found)
    for name, file in found.items():
        got = await api.get(f"/ui/assets/{name}")
        assert got.status == 200, name
        assert got.content_type == "text/javascript" and got.charset == "utf-8", name
        assert await got.read() == file.read_bytes(), name
        assert got.headers["Cache-Control"] == "no-cache"  # imported without ?v=: revalidated
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    # Names outside the list, sent as written (no client-side normalisation): static/docs.js
    # and the gateway's own sources lie outside static/ui.
    for path in [
        "../docs.js",
        "..%2Fdocs.js",
        "%2E%2E/docs.js",
        "%2e%2e%2fdocs.js",
        "pages/../../docs.js",
        "pages/%2E%2E/%2E%2E/docs.js",
        "../../routes/ui.py",
        "%2Fetc%2Fpasswd",
        "ui/main.js",
        "pages/nothing.js",
        "pages/",
        "pages",
        "main.js/",
    ]:
        resp = await api.session.get(URL(f"{api.base}/ui/assets/{path}", encoded=True))
        body = await resp.read()
        assert resp.status == 404, (path, resp.status)
        assert b"swagger" not in body.lower() and b"import" not in body, path


def test_ui_script_never_writes_markup() -> None:
    for name, file in modules().items():
        script = file.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script, (name, sink)
        assert "localStorage" not in script and "document.cookie" not in script, name
    css = UI_STATIC.joinpath("ui.css").read_text()
    assert "@import" not in css and "url(" not in css  # nothing fetched from elsewhere
