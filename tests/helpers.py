"""Helpers shared by the behaviour tests: queue files, response checks, local HTTP servers,
real ``conveyor`` subprocesses.

Nothing here looks inside a store: tests observe Conveyor only through its HTTP API, its
command line and the files their handlers write.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import aiohttp
from aiohttp import web

TESTS_DIR = Path(__file__).parent
QUEUES_DIR = TESTS_DIR / "queues"
EXTRA_DIR = TESTS_DIR / "extra_queues"
SEED_HANDLERS_DIR = TESTS_DIR.parent / "handlers"
T = TypeVar("T")

RECORD_FIELDS = frozenset(
    {
        "id",
        "queue",
        "status",
        "request",
        "result",
        "error",
        "created_at",
        "updated_at",
        "attempts",
        "request_id",
        "not_before",
        "version",
        "progress",
        "history",
        "cancel_requested",
    }
)


# --- queue definitions -----------------------------------------------------------------


def write_json(path: Path, document: Any) -> Path:
    """Write ``document`` as JSON to ``path``."""
    path.write_text(json.dumps(document))
    return path


def copy_handler(handler: str, target: Path) -> None:
    """Copy the handler module ``handler`` (from tests/queues or tests/extra_queues)."""
    for directory in (QUEUES_DIR, EXTRA_DIR):
        source = directory / f"{handler}.py"
        if source.is_file():
            shutil.copyfile(source, target)
            return
    raise FileNotFoundError(f"no test handler named {handler}")


def add_queue(
    queues_dir: Path,
    name: str,
    *,
    handler: str = "echo",
    schema: Any = None,
    roles: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``<name>.queue.json`` (and ``<name>.py`` copied from ``handler``)."""
    definition: dict[str, Any] = {"name": name, "incoming": {"schema": schema or {}}}
    if roles is not None:
        definition["roles"] = dict(roles)
    definition.update(extra)
    copy_handler(handler, queues_dir / f"{name}.py")
    return write_json(queues_dir / f"{name}.queue.json", definition)


def add_seed_queue(queues_dir: Path) -> None:
    """The seed's ``myQueue`` (definition and handler exactly as the repository ships them)."""
    for suffix in (".queue.json", ".py"):
        shutil.copyfile(SEED_HANDLERS_DIR / f"myQueue{suffix}", queues_dir / f"myQueue{suffix}")


def exists(path: Path) -> bool:
    """``path.exists()`` (a plain function, so async tests can poll it)."""
    return path.exists()


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a raw test connection and wait until its socket is closed. ``close`` alone only
    schedules it: a test whose loop ends first leaves the socket to the garbage collector,
    whose ResourceWarning then fails whichever test runs at that moment."""
    writer.close()
    # Reset by the server, or already gone: closed anyway.
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 5)


def written(path: Path) -> bool:
    """``path`` holds at least one whole line. A handler's ``write_text`` creates the file
    before it writes: polling ``exists`` alone can read it empty."""
    try:
        return path.read_text().endswith("\n")
    except FileNotFoundError:
        return False


def touch(path: Path) -> None:
    path.write_text("go\n")


# --- response checks -------------------------------------------------------------------


async def error_list(resp: aiohttp.ClientResponse, status: int) -> list[Any]:
    """Assert ``resp`` is ``status`` with an RFC 9457 problem document
    (``shared.platform.problems``); its ``errors``, each as its message, or as ``{"path",
    "message"}`` for one with a path."""
    text = await resp.text()
    assert resp.status == status, f"expected {status}, got {resp.status}: {text}"
    assert resp.content_type == "application/problem+json", (resp.content_type, text)
    return problem_items(json.loads(text), status)


def problem_items(body: Any, status: int) -> list[Any]:
    """Check a problem document's shape; its items as :func:`error_list` returns them."""
    assert isinstance(body, dict), body
    # A 403 also names the roles that would do (``gateway.auth.queue_access.forbidden``).
    extensions = {"required_roles"} if status == 403 else set()
    assert set(body) - extensions == {"type", "title", "status", "detail", "errors"}, body
    if "required_roles" in body:
        roles = body["required_roles"]
        assert roles and roles == sorted(roles) and all(isinstance(r, str) for r in roles), body
    assert body["type"] == "about:blank" and body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    for one in errors:
        assert isinstance(one, dict) and isinstance(one.get("message"), str), body
        assert set(one) <= {"path", "message"}, body
    text = json.dumps(body)
    assert "Traceback" not in text and 'File "' not in text, text
    return [one if "path" in one else one["message"] for one in errors]


def parse_ts(text: str) -> datetime:
    """An ISO-8601 UTC timestamp as the API writes it (``...Z``)."""
    assert text.endswith("Z"), text
    ts = datetime.fromisoformat(text[:-1] + "+00:00")
    assert ts.utcoffset() is not None
    return ts


def assert_record(record: Any, queue: str) -> None:
    """``record`` has exactly the public fields, a UUID4 id and sane types."""
    assert isinstance(record, dict), record
    assert set(record) == RECORD_FIELDS, sorted(record)
    parsed = uuid.UUID(record["id"])
    assert parsed.version == 4 and str(parsed) == record["id"], record["id"]
    assert record["queue"] == queue
    assert record["status"] in ("PENDING", "INPROGRESS", "COMPLETE", "ERROR", "CANCELLED")
    assert isinstance(record["attempts"], int) and record["attempts"] >= 0
    assert parse_ts(record["created_at"]) <= parse_ts(record["updated_at"])


# --- waiting -----------------------------------------------------------------------------


def _timed_out(what: str, within: float, last: object, detail: Callable[[], object] | None) -> str:
    message = f"timed out after {within:g} s waiting for {what} (last result: {last!r})"
    return f"{message}\n{detail()}" if detail is not None else message


@overload
async def wait_until(
    predicate: Callable[[], Coroutine[Any, Any, T | None]],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T: ...


@overload
async def wait_until(
    predicate: Callable[[], T | None],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T: ...


async def wait_until(
    predicate: Callable[[], Any],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> Any:
    """Call ``predicate`` (a function or a coroutine function) every ``interval`` s until it
    returns something truthy; return that value (typed without ``None``).

    After ``within`` s fail with an AssertionError naming ``what`` was awaited, the last result,
    and ``detail()`` if given (e.g. a process log). The predicate is always called at least
    once, and may itself raise to fail early (e.g. when the process it watches died).
    """
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(what, within, result, detail))
        await asyncio.sleep(interval)


def wait_until_sync(
    predicate: Callable[[], T | None],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T:
    """:func:`wait_until` for synchronous tests (blocks the thread between calls)."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(what, within, result, detail))
        time.sleep(interval)


# --- hand-made tokens ------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand (for algorithms PyJWT refuses to produce)."""
    head = b64url(json.dumps(dict(header)).encode())
    body = b64url(json.dumps(dict(claims)).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256_token(
    claims: Mapping[str, Any], secret: bytes, header: Mapping[str, Any] | None = None
) -> str:
    """An HS256 JWT signed with any bytes as the secret (e.g. a public key PEM)."""
    head = b64url(json.dumps(dict(header or {"alg": "HS256", "typ": "JWT"})).encode())
    body = b64url(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def claims(roles: Sequence[str] | None = ("tester",), ttl: int = 300) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"sub": "tester", "iat": now, "exp": now + ttl}
    if roles is not None:
        out["roles"] = list(roles)
    return out


# --- local HTTP servers ----------------------------------------------------------------


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


# --- real processes --------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ``CONVEYOR_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(extra)
    return env


def conveyor(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conveyor ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        env=dict(env) if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_call(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    """A blocking HTTP call for the process tests; (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None


# ``python -c`` program: set RLIMIT_NOFILE to (argv[1], argv[2]), then run ``conveyor argv[3:]``.
_WITH_NOFILE = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "sys.argv = ['conveyor', *sys.argv[3:]]; "
    "runpy.run_module('conveyor', run_name='__main__')"
)


class ServeProcess:
    """``python -m conveyor serve`` as a real child process on its own port; ``nofile``:
    start it with this (soft, hard) open-file limit."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        nofile: tuple[int, int] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("ab")
        start = [sys.executable, "-m", "conveyor"]
        if nofile is not None:
            start = [sys.executable, "-c", _WITH_NOFILE, str(nofile[0]), str(nofile[1])]
        self.proc = subprocess.Popen(
            [*start, "serve", "--port", str(self.port), *args],
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, within: float = 30.0) -> None:
        def healthy() -> bool:
            assert self.proc.poll() is None, f"serve exited early:\n{self.log()}"
            try:
                return http_call("GET", f"{self.url}/healthz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_until_sync(healthy, "serve to answer /healthz", within, detail=self.log)

    def wait_exit(self, within: float) -> int:
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not exit within {within}s:\n{self.log()}") from None

    def close(self) -> None:
        """Kill (if still running) and reap this process; close its log."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()
