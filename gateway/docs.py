"""``GET /docs``: Swagger UI for ``/openapi.json``, its assets served from the
``swagger-ui-bundle`` package under ``/docs/assets`` (never a CDN)."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "BaseLayout"}});
</script></body></html>
"""


async def docs(request: web.Request) -> web.Response:
    """``GET /docs``: Swagger UI on ``/openapi.json``, every asset served locally."""
    page = DOCS_PAGE.format(title=html.escape("Conveyor API"), assets=ASSETS)
    return web.Response(text=page, content_type="text/html")


def add_docs_routes(app: web.Application) -> None:
    """Register ``/docs`` and the Swagger UI assets."""
    app.router.add_get("/docs", docs)
    app.router.add_static(ASSETS, Path(str(swagger_ui_path)), show_index=False)
