"""``GET /docs``: Swagger UI for ``/openapi.json``, every asset served by the gateway itself.

The page shell is public; its script (``static/docs.js``) asks the user for a bearer token,
keeps it in the tab's ``sessionStorage`` and sends it on Swagger UI's same-origin requests,
the fetch of ``/openapi.json`` included (that document needs a token, see
``gateway.routes.openapi``). The page has no inline script or style, so it is served with a strict
Content-Security-Policy.

Assets come from the package (``gateway/static``; Swagger UI is vendored there by
``scripts/vendor-swagger-ui.sh``), never a CDN. The page links each as
``/docs/assets/<name>?v=<digest>``: an asset requested with its current digest is cacheable
for a year (a new version has a new URL); without it, it must be revalidated (``ETag``).
"""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from gateway.http.errors import ApiError

ASSETS = "/docs/assets"
OPENAPI_URL = "/openapi.json"
#: Name in the URL → (file under gateway/static, content type). Nothing else is served.
ASSET_FILES: Mapping[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("swagger-ui/favicon-32x32.png", "image/png"),
    "docs.js": ("docs.js", "text/javascript"),
    "docs.css": ("docs.css", "text/css"),
}
#: Swagger UI draws its icons from ``data:`` images; it fetches only from this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
VERSIONED_CACHE = "public, max-age=31536000, immutable"

# The token input has no `name`, so even a form submitted without the script (which prevents
# it) could never carry the token anywhere; `form-action 'none'` forbids the submission too.
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{favicon}">
<link rel="stylesheet" href="{swagger_css}">
<link rel="stylesheet" href="{docs_css}">
</head><body>
<form id="conveyor-token" class="conveyor-token" method="post" autocomplete="off">
<label for="conveyor-token-input">Bearer token</label>
<input id="conveyor-token-input" type="password" autocomplete="off" spellcheck="false"
  placeholder="paste a token, e.g. from: conveyor token --roles system_admin">
<button type="submit" id="conveyor-token-use">Use token</button>
<button type="button" id="conveyor-token-forget">Forget</button>
<span id="conveyor-token-state" role="status"></span>
</form>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{swagger_js}"></script>
<script src="{docs_js}"></script>
</body></html>
"""


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file, held in memory."""

    body: bytes
    content_type: str
    digest: str  # first 16 hex digits of the body's SHA-256: its URL version and its ETag


def read_assets(files: Mapping[str, tuple[str, str]]) -> Mapping[str, Asset]:
    """``files`` (URL name → path under gateway/static, content type) read from the package.
    Raises OSError when the package data is missing (a broken install)."""
    static = resources.files("gateway") / "static"
    loaded = {}
    for name, (path, content_type) in files.items():
        body = static.joinpath(*path.split("/")).read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        loaded[name] = Asset(body, content_type, digest)
    return loaded


@functools.cache
def assets() -> Mapping[str, Asset]:
    """Every served asset of ``/docs``, read from the package once per process."""
    return read_assets(ASSET_FILES)


@functools.cache
def page() -> str:
    """The ``/docs`` HTML, linking each asset at its current version."""
    found = assets()

    def link(name: str) -> str:
        return html.escape(f"{ASSETS}/{name}?v={found[name].digest}")

    return DOCS_PAGE.format(
        title="Conveyor API",
        favicon=link("favicon-32x32.png"),
        swagger_css=link("swagger-ui.css"),
        docs_css=link("docs.css"),
        swagger_js=link("swagger-ui-bundle.js"),
        docs_js=link("docs.js"),
        openapi=html.escape(OPENAPI_URL),
    )


async def docs(request: web.Request) -> web.Response:
    """``GET /docs``: the page (public; the document it shows needs a token)."""
    return web.Response(
        text=page(), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


async def asset(request: web.Request) -> web.Response:
    """``GET /docs/assets/{name}``: a packaged asset; 304 when the client's copy is current."""
    return serve_asset(request, assets())


def serve_asset(request: web.Request, served: Mapping[str, Asset]) -> web.Response:
    """The asset named in the path among ``served``; 304 when the client's copy is current,
    404 for any other name."""
    name = request.match_info["name"]
    found = served.get(name)
    if found is None:
        raise ApiError(404, f"no asset named {name}")
    current = request.query.get("v") == found.digest
    headers = {
        "Cache-Control": VERSIONED_CACHE if current else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if any(tag.value in (found.digest, "*") for tag in request.if_none_match or ()):
        response = web.Response(status=304, headers=headers)
    else:
        text = found.content_type.startswith("text/")
        response = web.Response(
            body=found.body,
            content_type=found.content_type,
            charset="utf-8" if text else None,
            headers=headers,
        )
        response.enable_compression()  # gzip/deflate when the client accepts it
    response.etag = found.digest
    return response


def add_docs_routes(app: web.Application) -> None:
    """Register ``/docs`` and its assets."""
    app.router.add_get("/docs", docs)
    app.router.add_get(ASSETS + "/{name}", asset)
