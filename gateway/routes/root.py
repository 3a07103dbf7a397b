"""``GET /``: a redirect to the dashboard (``/ui``), so the address the start line prints
leads somewhere useful in a browser."""

from __future__ import annotations

from aiohttp import web

from gateway.routes.spec import Doc, Route

DASHBOARD = "/ui"


async def root(request: web.Request) -> web.Response:
    """``GET /``: 302 to ``/ui`` (public, like the page it leads to)."""
    return web.Response(status=302, headers={"Location": DASHBOARD})


def root_doc(public: bool) -> Doc:
    """``GET /``."""
    return {
        "summary": "Redirects to the operators' dashboard (/ui)",
        "security": [],
        "responses": {
            "302": {
                "description": "Found: the dashboard",
                "headers": {"Location": {"schema": {"type": "string", "const": DASHBOARD}}},
            }
        },
    }


ROUTES = (Route("GET", "/", root, fixed=root_doc),)
