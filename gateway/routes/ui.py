"""``GET /ui``: the operators' dashboard, a page of plain HTML, CSS and JavaScript.

Every file comes from the package (``gateway/static/ui``), no CDN and no build step. The
page only uses the public HTTP API with the bearer token the user pastes once (kept in the
tab's ``sessionStorage``, sent as ``Authorization``, never in a URL or a cookie, so there is
no CSRF surface); with queues whose auth is off it works without one. The script renders
every value from a message as text (``textContent``), never as markup, and the page is
served with a Content-Security-Policy without ``unsafe-inline``: an injected ``<script>`` or
``onerror`` attribute could not run even if it reached the DOM.

The script is native ES modules, one per page plus the router and helpers
(``static/ui/main.js`` imports the rest). What is served under ``/ui/assets/<name>`` is a
fixed list, made once from the files under ``static/ui`` (``pages/queue.js`` names
``static/ui/pages/queue.js``): a requested name is only looked up in it, never joined to a
path, so nothing outside that folder can be named. The page links its files as
``<name>?v=<digest>``, cached like ``/docs``'s; the modules that ``main.js`` imports are
requested without the digest, so they are revalidated (``no-cache``, ``ETag``) and a new
release is picked up on the next load.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath

from aiohttp import web

from gateway.http.pages import Asset, html_page, page_headers, read_assets, serve_asset
from gateway.routes.spec import Doc, Route, plain

ASSETS = "/ui/assets"
ENTRY = "main.js"  # the module that starts the dashboard
#: A file under static/ui is served as its suffix says; a file of another kind is not served.
CONTENT_TYPES: Mapping[str, str] = {".js": "text/javascript", ".css": "text/css"}
FAVICON: Mapping[str, tuple[str, str]] = {
    "favicon.png": ("swagger-ui/favicon-32x32.png", "image/png")
}
PAGE_HEADERS = page_headers()

# The token input has no `name` and `form-action 'none'` forbids submitting: the token can
# only leave through the script's Authorization header.
UI_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conveyor dashboard</title>
<link rel="icon" type="image/png" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head><body>
<header class="top">
<a class="brand" href="#/">Conveyor</a>
<nav><a href="#/">Queues</a> <a href="#/workers">Workers</a>
<a href="#/audit" id="nav-audit" hidden>Audit log</a> <a href="/docs">API docs</a></nav>
<form id="token-form" class="token" method="post" autocomplete="off">
<label for="token-input">Bearer token</label>
<input id="token-input" type="password" autocomplete="off" spellcheck="false"
  placeholder="paste a token">
<button type="submit" id="token-use">Use token</button>
<button type="button" id="token-forget">Forget</button>
<span id="token-state" role="status"></span>
</form>
</header>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<noscript><p>The dashboard needs JavaScript.</p></noscript>
<script type="module" src="{js}"></script>
</body></html>
"""


def ui_files() -> Mapping[str, tuple[str, str]]:
    """Name in the URL → (file under gateway/static, content type): every script and style
    under ``static/ui`` by its path there (``main.js``, ``pages/queue.js``; hidden files
    left out), and the favicon."""
    files = dict(FAVICON)
    for name in _files_under(resources.files("gateway") / "static" / "ui"):
        content_type = CONTENT_TYPES.get(PurePosixPath(name).suffix)
        if content_type:
            files[name] = (f"ui/{name}", content_type)
    return files


def _files_under(folder: Traversable, prefix: str = "") -> Iterator[str]:
    """The relative names (``/``-separated) of the files under ``folder``, at any depth."""
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _files_under(entry, f"{prefix}{entry.name}/")
        elif entry.is_file():
            yield prefix + entry.name


@functools.cache
def assets() -> Mapping[str, Asset]:
    """The dashboard's files, read from the package once per process."""
    return read_assets(ui_files())


@functools.cache
def page() -> str:
    """The ``/ui`` HTML, linking each asset at its current version."""
    found = assets()

    def link(name: str) -> str:
        return html.escape(f"{ASSETS}/{name}?v={found[name].digest}")

    return UI_PAGE.format(favicon=link("favicon.png"), css=link("ui.css"), js=link(ENTRY))


async def ui_page(request: web.Request) -> web.Response:
    """``GET /ui``: the page (public; everything it shows needs the API's own roles)."""
    return html_page(page(), PAGE_HEADERS)


async def ui_asset(request: web.Request) -> web.Response:
    """``GET /ui/assets/{name}``: a packaged file of the dashboard (``name`` may hold ``/``:
    ``pages/queue.js``); 404 for a name not in :func:`ui_files`."""
    return serve_asset(request, assets())


def ui_doc(public: bool) -> Doc:
    """``GET /ui``."""
    return plain("The operators' dashboard (it asks for a token)", {}, "text/html")


ROUTES = (
    Route("GET", "/ui", ui_page, fixed=ui_doc),
    Route("GET", ASSETS + "/{name:.+}", ui_asset),
)
