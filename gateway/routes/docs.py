"""``GET /docs``: Swagger UI for ``/openapi.json``, every asset served by the gateway itself.

The page shell is public; its script (``static/docs.js``) asks the user for a bearer token,
keeps it in the tab's ``sessionStorage`` and sends it on Swagger UI's same-origin requests,
the fetch of ``/openapi.json`` included (that document needs a token, see
``gateway.routes.openapi``). The page has no inline script or style, so it is served with a strict
Content-Security-Policy.

Assets come from the package (``gateway/static``; Swagger UI is vendored there by
``scripts/vendor-swagger-ui.sh``), served as ``/docs/assets/<name>`` like the dashboard's
(``gateway.http.pages``).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping

from aiohttp import web

from gateway.http.pages import Asset, html_page, page_headers, read_assets, serve_asset
from gateway.routes.spec import Doc, Route, plain

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
PAGE_HEADERS = page_headers(img_src="'self' data:")

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
    return html_page(page(), PAGE_HEADERS)


async def asset(request: web.Request) -> web.Response:
    """``GET /docs/assets/{name}``: a packaged asset; 304 when the client's copy is current."""
    return serve_asset(request, assets())


def docs_doc(public: bool) -> Doc:
    """``GET /docs``."""
    return plain("Swagger UI for this document (it asks for a token)", {}, "text/html")


ROUTES = (
    Route("GET", "/docs", docs, fixed=docs_doc),
    Route("GET", ASSETS + "/{name}", asset),
)
