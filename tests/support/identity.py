"""A local identity provider: a JWKS endpoint and an OAuth2 token endpoint that count hits,
served by :func:`local_server` (any aiohttp app on a free port)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


@asynccontextmanager
async def local_server(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


class JwksServer:
    """An identity provider's JWKS endpoint that counts how often it is fetched."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.document: Any = None  # served instead of {"keys": keys} when set
        self.hits = 0
        self.broken = False
        self.url = ""

    async def _serve(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.broken:
            return web.Response(status=500, text="identity provider down")
        return web.json_response({"keys": self.keys} if self.document is None else self.document)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[JwksServer]:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self._serve)
        async with local_server(app) as base:
            self.url = f"{base}/.well-known/jwks.json"
            yield self


class TokenEndpoint:
    """An OAuth2 client-credentials token endpoint that counts its hits."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.secrets = dict(secrets)
        self.requests: list[dict[str, str]] = []
        self.url = ""

    async def _serve(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(form)
        if form.get("grant_type") != "client_credentials" or self.secrets.get(
            form.get("client_id", "")
        ) != form.get("client_secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"access-{form['client_id']}-{len(self.requests)}"
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TokenEndpoint]:
        app = web.Application()
        app.router.add_post("/oauth/token", self._serve)
        async with local_server(app) as base:
            self.url = f"{base}/oauth/token"
            yield self
