"""Serving the gateway's two pages, ``/docs`` and ``/ui``: packaged assets and page headers.

Both pages are plain HTML shells whose scripts and styles come from the package
(``gateway/static``), never a CDN. Each asset is read once into memory (:func:`read_assets`)
and linked as ``<name>?v=<digest>``: requested with its current digest it is cacheable for a
year (a new version has a new URL); without it, it must be revalidated (``ETag``). A page has
no inline script or style, so it is served with a strict Content-Security-Policy
(:func:`page_headers`) and may not be framed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from gateway.http.errors import ApiError

VERSIONED_CACHE = "public, max-age=31536000, immutable"


def page_headers(img_src: str = "'self'") -> Mapping[str, str]:
    """The headers of a page: a CSP allowing only this origin (images also from
    ``img_src``), no framing, no caching without revalidation, no referrer."""
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img_src}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def html_page(text: str, headers: Mapping[str, str]) -> web.Response:
    """A page's answer: ``text`` as UTF-8 HTML with ``headers``."""
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=headers)


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
