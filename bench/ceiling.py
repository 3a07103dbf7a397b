"""The ceilings: a minimal aiohttp app with no Conveyor code, as any aiohttp service would be.

``python -m bench.ceiling --port P`` answers ``POST /{queue}``: read the JSON body, parse it
(the standard library's ``json``), answer ``201`` with a small JSON body. With
``--public-key PEM --schema FILE`` it also verifies the RS256 bearer token with PyJWT and
validates the body with ``jsonschema`` on every request, without caching either: the obvious
implementation of the gateway's checks (the validator object is built once, as any service
would). Bad tokens get 401, invalid bodies 422.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from aiohttp import web


def make_app(public_key: Any | None, schema: dict[str, Any] | None) -> web.Application:
    """The app; with a key and a schema, the checked variant."""
    validator = jsonschema.Draft202012Validator(schema) if schema is not None else None

    async def push(request: web.Request) -> web.Response:
        if public_key is not None:
            header = request.headers.get("Authorization", "")
            try:
                jwt.decode(header.removeprefix("Bearer "), public_key, algorithms=["RS256"])
            except jwt.InvalidTokenError:
                return web.json_response({"error": "invalid token"}, status=401)
        body = json.loads(await request.read())
        if validator is not None:
            errors = [e.message for e in validator.iter_errors(body)]
            if errors:
                return web.json_response({"errors": errors}, status=422)
        answer = {"id": str(uuid.uuid4()), "queue": request.match_info["queue"]}
        return web.json_response(answer, status=201)

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/readyz", ready)
    app.router.add_post("/{queue}", push)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", type=Path)
    parser.add_argument("--schema", type=Path)
    args = parser.parse_args()
    key = None
    schema = None
    if args.public_key:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        key = load_pem_public_key(args.public_key.read_bytes())
        schema = json.loads(args.schema.read_text())["incoming"]["schema"]
    web.run_app(
        make_app(key, schema), host="127.0.0.1", port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
