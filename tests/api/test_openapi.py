"""``GET /openapi.json`` (a valid OpenAPI 3.1 document that matches what the server does, and
that needs a valid token unless made public) and ``GET /docs`` (Swagger UI with local assets
only; tests/api/test_docs_assets.py and tests/browser/test_docs.py test the page further)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list

METHODS = ("get", "post", "delete", "put", "patch")
REFS_SCHEMA = {
    "$defs": {"count": {"type": "integer", "minimum": 0}},
    "type": "object",
    "properties": {"n": {"$ref": "#/$defs/count"}},
}


async def started(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> tuple[Served, Api, dict[str, Any]]:
    """A Conveyor with the test queues (minus the consumer-killing one) plus two more."""
    for suffix in (".queue.json", ".py"):
        (queues_dir / f"poison{suffix}").unlink()
    add_queue(queues_dir, "refs", schema=REFS_SCHEMA, roles={"roles": ["tester"]})
    add_queue(queues_dir, "anyToken", roles={"needsRole": False}, description="No role needed.")
    served = await start_conveyor()
    api = api_for(served)
    resp = await api.get("/openapi.json", api.keys.token())  # any valid token, no role
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return served, api, await resp.json()


def statuses(doc: dict[str, Any], path: str, method: str) -> set[int]:
    return {int(code) for code in doc["paths"][path][method]["responses"]}


async def test_document_is_valid_openapi_31(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    _, _, doc = await started(start_conveyor, api_for, queues_dir)
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    post = doc["paths"]["/echo"]["post"]
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    incoming = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert incoming["type"] == "object"
    assert statuses(doc, "/echo", "post") >= {201, 400, 401, 403, 413, 415, 422, 503}
    assert post["security"] == [{"bearerAuth": []}]
    assert "tester" in post["x-roles"] and "system_admin" in post["x-roles"]
    assert "tester" in post["description"]
    for code in ("400", "401", "403", "422"):
        ref = post["responses"][code]["content"]["application/problem+json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Problem"
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "errors"}
    assert "request_id" in doc["components"]["schemas"]["Record"]["properties"]
    assert statuses(doc, "/echo/{id}", "get") >= {200, 401, 403, 404}
    assert statuses(doc, "/echo/{id}", "delete") >= {204, 401, 403, 404}

    open_post = doc["paths"]["/open"]["post"]
    assert open_post["security"] == [] and 401 not in statuses(doc, "/open", "post")
    any_token = doc["paths"]["/anyToken"]["post"]
    assert any_token["x-roles"] == [] and 401 in statuses(doc, "/anyToken", "post")
    assert "No role needed." in any_token["description"]
    assert doc["paths"]["/queues"]["get"]["x-roles"] == []  # any token: its own queues
    assert "/poison" not in doc["paths"]
    own = doc["paths"]["/openapi.json"]["get"]
    assert own["security"] == [{"bearerAuth": []}] and 401 in statuses(doc, "/openapi.json", "get")
    assert doc["paths"]["/docs"]["get"]["security"] == []


async def test_every_route_is_documented(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    served, _, doc = await started(start_conveyor, api_for, queues_dir)
    queues = served.runtime.registry().names
    for route in served.http.app.router.routes():
        method = route.method.lower()
        if method == "head" or route.resource is None:
            continue
        canonical = route.resource.canonical
        if canonical.startswith(("/docs/assets", "/ui/assets")):
            continue
        if "{queue}" in canonical:
            paths = [canonical.replace("{queue}", name) for name in queues]
        else:
            paths = [canonical]
        for path in paths:
            assert path in doc["paths"], f"{route.method} {canonical} is not documented"
            assert method in doc["paths"][path], f"{route.method} {path} is not documented"


async def test_every_documented_operation_is_served(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    # Routes and their documentation are declared together (gateway.routes.spec.Route): the
    # document can name nothing the gateway does not serve.
    served, _, doc = await started(start_conveyor, api_for, queues_dir)
    queues = served.runtime.registry().names
    registered = set()
    for route in served.http.app.router.routes():
        if route.resource is None:
            continue
        canonical = route.resource.canonical
        names = queues if "{queue}" in canonical else [""]
        for name in names:
            registered.add((route.method.lower(), canonical.replace("{queue}", name)))
    for path, item in doc["paths"].items():
        for method in set(item) & set(METHODS):
            assert (method, path) in registered, f"{method.upper()} {path} is not served"


async def test_documented_operations_answer_as_documented(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    _, api, doc = await started(start_conveyor, api_for, queues_dir)
    admin = api.keys.token(["system_admin"])
    queue_paths = [p for p in doc["paths"] if re.fullmatch(r"/[A-Za-z0-9_-]+", p)]
    queue_paths = [p for p in queue_paths if "post" in doc["paths"][p]]
    assert "/echo" in queue_paths and "/refs" in queue_paths
    for path in queue_paths:
        posted = statuses(doc, path, "post")
        anonymous = await api.post(path[1:], {"n": 1})
        assert anonymous.status in posted, (path, anonymous.status)
        resp = await api.post(path[1:], {"n": 1}, admin)
        assert resp.status in posted and resp.status not in (404, 405), (path, resp.status)
        bad_type = await api.session.post(
            f"{api.base}{path}", data=b"{}", headers={**api.auth(admin), "Content-Type": "text/x"}
        )
        assert bad_type.status == 415 and 415 in posted
        message_id = (await resp.json())["id"] if resp.status == 201 else str(uuid.uuid4())
        item = f"{path}/{{id}}"
        got = await api.get(f"{path}/{message_id}", admin)
        assert got.status in statuses(doc, item, "get") and got.status != 405, (path, got.status)
        if resp.status == 201:
            assert got.status == 200
        listed = await api.get(f"{path}?limit=5", admin)
        assert listed.status in statuses(doc, path, "get") and listed.status == 200, path
        retry = f"{path}/{message_id}/retry"
        redriven = await api.session.post(f"{api.base}{retry}", headers=api.auth(admin))
        assert redriven.status in statuses(doc, f"{item}/retry", "post"), (retry, redriven.status)
        assert redriven.status != 405
        deleted = await api.delete(f"{path}/{message_id}", admin)
        assert deleted.status in statuses(doc, item, "delete"), (path, deleted.status)
        assert deleted.status == (204 if resp.status == 201 else 404)
        batch = await api.post(f"{path[1:]}/batch", [{"n": 2}], admin)
        assert batch.status in statuses(doc, f"{path}/batch", "post"), (path, batch.status)
        assert batch.status not in (404, 405)
    refused = await api.post("refs", {"n": -1}, admin)
    assert refused.status == 422  # the $ref inside the queue's schema is honoured
    for fixed in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        resp = await api.get(fixed)
        assert resp.status in statuses(doc, fixed, "get"), (fixed, resp.status)
    queues = await api.get("/queues")
    assert queues.status in statuses(doc, "/queues", "get") and queues.status == 200  # open


async def test_docs_page_uses_only_local_assets(api: Api) -> None:
    resp = await api.get("/docs")  # the page itself needs no token
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    urls = re.findall(r"""(?:src|href|data-openapi-url)\s*=\s*["']([^"']+)["']""", page)
    assert len(urls) >= 6, page  # icon, two stylesheets, two scripts, the document
    token = api.keys.token()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await api.get(url.replace("&amp;", "&"), token)
        assert asset.status == 200, url
        assert len(await asset.read()) > 0
    assert "/openapi.json" in urls
    assert not re.search(r"https?://", page)


# --- who may read the document ------------------------------------------------------------

#: Who may read the document does not depend on the store or the delivery.
EMBEDDED_ONLY = pytest.mark.parametrize("mode", ["embedded"], indirect=True)


def keep_only(queues_dir: Path, name: str) -> None:
    """Remove every queue definition and handler from ``queues_dir`` except ``name``'s."""
    for path in queues_dir.iterdir():
        if path.is_file() and not path.name.startswith(f"{name}."):
            path.unlink()


@EMBEDDED_ONLY
async def test_document_needs_a_valid_token(api: Api) -> None:
    missing = await api.get("/openapi.json")
    assert await error_list(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    forged = api.keys.token(["system_admin"], alg="HS256") + "x"
    assert await error_list(await api.get("/openapi.json", forged), 401)
    expired = api.keys.token(ttl=-3600)
    assert await error_list(await api.get("/openapi.json", expired), 401)
    for token in (api.keys.token(), api.keys.token(["nobody"]), api.keys.token(alg="RS256")):
        ok = await api.get("/openapi.json", token)  # any valid token, no role needed
        assert ok.status == 200, await ok.text()
        assert ok.headers["Cache-Control"] == "private, no-store"
    metrics = await (await api.get("/metrics")).text()
    assert 'conveyor_auth_failures_total{reason="missing_token"}' in metrics


@EMBEDDED_ONLY
async def test_public_openapi_serves_the_document_without_a_token(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(public_openapi=True))
    resp = await api.get("/openapi.json")
    assert resp.status == 200, await resp.text()
    doc = await resp.json()
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert 401 not in statuses(doc, "/openapi.json", "get")
    assert doc["paths"]["/echo"]["post"]["security"] == [{"bearerAuth": []}]  # queues unchanged
    assert (await api.post("echo", {})).status == 401


@EMBEDDED_ONLY
async def test_keyless_gateway_of_open_queues_serves_the_document_without_a_token(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    # No key can verify any token, and every queue is open: nothing to hide, no way to ask.
    keep_only(queues_dir, "open")
    api = api_for(await start_conveyor(jwt_secret=None, jwt_public_key=()))
    resp = await api.get("/openapi.json")
    assert resp.status == 200, await resp.text()
    doc = await resp.json()
    assert set(doc["paths"]) >= {"/open", "/openapi.json"} and "/echo" not in doc["paths"]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


@EMBEDDED_ONLY
async def test_keyless_with_a_protected_queue_still_needs_a_token(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    # A protected queue is loaded: the document names it, so it stays closed (and without a
    # key no token passes: configure one).
    api = api_for(await start_conveyor(jwt_secret=None, jwt_public_key=()))
    assert await error_list(await api.get("/openapi.json"), 401)
    assert await error_list(await api.get("/openapi.json", api.keys.token()), 401)
