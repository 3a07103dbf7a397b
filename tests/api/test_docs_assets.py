"""``GET /docs`` and its assets over HTTP: the vendored Swagger UI is exactly what
``scripts/vendor-swagger-ui.sh`` recorded, every asset the page links is served from the
package with its content type and caching headers, and the page itself can run under its
strict Content-Security-Policy (no inline script or style). tests/browser/test_docs.py
renders it in Chromium."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

from tests.support.api_client import Api
from tests.support.responses import error_list

EMBEDDED = pytest.mark.parametrize("mode", ["embedded"], indirect=True)  # HTTP only

VENDORED = resources.files("gateway") / "static" / "swagger-ui"
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def vendored_sums() -> dict[str, str]:
    """``SHA256SUMS`` of the vendored Swagger UI: file name → hex digest."""
    lines = VENDORED.joinpath("SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line)}


def linked(page: str) -> list[str]:
    """The local URLs the page's tags link (stylesheets, icon, scripts)."""
    return [u.replace("&amp;", "&") for u in re.findall(r"""(?:src|href)="([^"]+)\"""", page)]


async def docs_page(api: Api) -> str:
    resp = await api.get("/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    return await resp.text()


def test_vendored_swagger_ui_is_what_the_script_recorded() -> None:
    assert VENDORED.joinpath("VERSION").read_text().strip().startswith("5.")
    sums = vendored_sums()
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} <= set(sums)
    for name, digest in sums.items():
        body = VENDORED.joinpath(name).read_bytes()
        assert hashlib.sha256(body).hexdigest() == digest, f"{name} changed by hand?"


@EMBEDDED
async def test_page_links_every_asset_versioned_and_they_are_served_from_the_package(
    api: Api,
) -> None:
    sums = vendored_sums()
    urls = linked(await docs_page(api))
    names = {url.split("?")[0].rsplit("/", 1)[1] for url in urls}
    assert names == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"} | {
        "docs.js",
        "docs.css",
    }
    for url in urls:
        assert re.fullmatch(r"/docs/assets/[\w.-]+\?v=[0-9a-f]{16}", url), url
        resp = await api.get(url)
        body = await resp.read()
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert resp.status == 200, url
        assert resp.content_type == TYPES[name[name.rindex(".") :]], (url, resp.content_type)
        if resp.content_type.startswith("text/"):
            assert resp.charset == "utf-8", url
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        if name in sums:
            assert hashlib.sha256(body).hexdigest() == sums[name], url
        else:
            assert body == resources.files("gateway").joinpath("static", name).read_bytes()


@EMBEDDED
async def test_assets_revalidate_without_their_version_and_compress(api: Api) -> None:
    url = next(u for u in linked(await docs_page(api)) if "swagger-ui-bundle.js" in u)
    bare = url.split("?")[0]
    for unversioned in (bare, f"{bare}?v=0000000000000000"):
        resp = await api.get(unversioned)
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache", unversioned
    first = await api.session.get(f"{api.base}{bare}", headers={"Accept-Encoding": "gzip"})
    full = await first.read()
    assert first.headers["Content-Encoding"] == "gzip"
    assert int(first.headers["Content-Length"]) < len(full) // 2  # 1.7 MB of JavaScript
    etag = first.headers["ETag"]
    again = await api.session.get(f"{api.base}{bare}", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["ETag"] == etag
    other = await api.session.get(f"{api.base}{bare}", headers={"If-None-Match": '"other"'})
    assert other.status == 200 and await other.read() == full


@EMBEDDED
async def test_unknown_assets_are_404(api: Api) -> None:
    for path in ("/docs/assets/nope.js", "/docs/assets/..%2Fdocs.py", "/docs/assets/VERSION"):
        await error_list(await api.get(path), 404)


@EMBEDDED
async def test_docs_page_runs_under_a_strict_content_security_policy(api: Api) -> None:
    resp = await api.get("/docs")  # public: no token
    assert resp.status == 200
    page = await resp.text()
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in resp.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    # Nothing inline that the policy would block, and the token field is never submitted.
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S) == ["", ""]
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page)
    token_input = re.search(r"<input\b[^>]*>", page)
    assert token_input and 'type="password"' in token_input[0]
    assert "name=" not in token_input[0]
