"""One frozen settings object per process, built once from CLI flags and ``CONVEYOR_*``.

Every setting is a flag and an environment variable (flag ``--jwt-secret`` ↔ variable
``CONVEYOR_JWT_SECRET``); a flag wins over the variable. A bad value, or an unknown
``CONVEYOR_*`` variable, fails at start with a one-line reason (:class:`SettingsError`). The
only variables outside the table are ``CONVEYOR_CLIENT_SECRET_<CLIENT_ID>``, the OAuth2
client secrets handlers use through ``ctx.auth``.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "CONVEYOR_"
#: The store when none is given: a file in the working directory (which always exists).
DEFAULT_STORE = "sqlite:///./conveyor.db"
CLIENT_SECRET_PREFIX = "CONVEYOR_CLIENT_SECRET_"


class SettingsError(ValueError):
    """A setting has a bad value; the message is one line naming it."""


def mask_url(url: str | None) -> str:
    """``url`` with any password replaced by ``***`` (safe to log)."""
    if not url:
        return str(url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("must be a number >= 0")
    return value


#: Deeper than this, parsing and validating a body would approach Python's recursion limit.
MAX_JSON_DEPTH_LIMIT = 256


def _json_depth(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_JSON_DEPTH_LIMIT:
        raise ValueError(f"must be an integer from 1 to {MAX_JSON_DEPTH_LIMIT}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port (0-65535)")
    return value


def _store_url(text: str) -> str:
    if not (text.startswith("sqlite:///") or text.startswith(("mongodb://", "mongodb+srv://"))):
        raise ValueError("must be sqlite:///PATH or mongodb://…")
    path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else None
    if path is not None and (not path or path.endswith("/") or Path(path).name in (".", "..")):
        raise ValueError("sqlite:///PATH needs a file name, e.g. sqlite:///./conveyor.db")
    return text


def _broker_url(text: str) -> str:
    if not text.startswith(("amqp://", "amqps://")):
        raise ValueError("must be amqp://… or amqps://…")
    return text


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be http://… or https://…")
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of debug, info, warning, error")
    return level


def _log_format(text: str) -> str:
    value = text.lower()
    if value not in {"text", "json"}:
        raise ValueError("must be text or json")
    return value


def _event_loop(text: str) -> str:
    value = text.lower()
    if value not in {"asyncio", "uvloop"}:
        raise ValueError("must be asyncio or uvloop")
    return value


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _str(text: str) -> str:
    return text


def _networks(text: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDRs (checked; kept as text)."""
    items = _csv(text)
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its flag, parser, help and whether it repeats.

    A ``switch`` is a flag without a value (``--public-openapi``) that sets it true; its
    variable takes ``true``/``false`` (or 1/0, yes/no, on/off). A switch that is ``off``
    is spelt ``--no-NAME`` and sets it false.
    """

    name: str
    parse: Callable[[str], Any]
    help: str
    repeat: bool = False
    switch: bool = False
    off: bool = False

    @property
    def flag(self) -> str:
        return ("--no-" if self.off else "--") + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


#: Fields holding URLs, printed with any password masked.
_URLS = ("store", "broker", "rabbitmq_management_url", "jwks_url", "token_url")


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a Conveyor process is configured with. Build with :func:`parse_settings`."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Slow and broken clients (gateway/http/conn_limits.py, README "Slow and broken clients").
    max_connections: int = 16384
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    idle_timeout_seconds: float = 75.0
    max_header_bytes: int = 8190
    store: str = DEFAULT_STORE
    broker: str | None = None
    rabbitmq_management_url: str | None = None
    handlers: Path = Path("./handlers")
    queues: tuple[str, ...] = ()
    concurrency: int = 16
    grace_seconds: float = 30.0
    lease_seconds: float = 30.0
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    rate_limit_requests: int | None = None
    rate_limit_per_seconds: float = 1.0
    batch_max_items: int = 100
    public_openapi: bool = False
    access_log: bool = True
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key: tuple[Path, ...] = ()
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    roles_claim: str | None = None
    jwt_leeway_seconds: float = 30.0
    token_url: str | None = None
    queue_prefix: str = "conveyor."
    delivery_limit: int = 5
    mongo_database: str = "conveyor"
    mongo_collection: str = "messages"
    sweep_interval_seconds: float = 15.0
    reload_interval_seconds: float = 1.0
    republish_after_seconds: float = 60.0
    start_timeout_seconds: float = 60.0
    log_level: str = "INFO"
    log_format: str = "text"
    event_loop: str = "asyncio"
    metrics_port: int = 0
    trusted_proxies: tuple[str, ...] = ()
    drain_seconds: float = 2.0
    # Event streams (GET /{queue}/{id}/events; gateway/routes/events.py).
    events_heartbeat_seconds: float = 15.0
    events_max_seconds: float = 300.0
    #: TEST ONLY: the scheduler's clock is read from this file
    # (``shared.platform.clock.FileClock``).
    test_clock_file: Path | None = None
    client_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a ``sqlite:///`` store, else None."""
        if self.store.startswith("sqlite:///"):
            return Path(self.store.removeprefix("sqlite:///"))
        return None

    @property
    def secret_file(self) -> Path:
        """Where ``serve`` keeps the HS256 secret it generates: beside the database."""
        db = self.sqlite_path
        return (db.parent if db else Path(".")) / "conveyor.secret"

    @property
    def has_keys(self) -> bool:
        """True if any token verification key is configured."""
        return bool(self.jwt_secret or self.jwt_public_key or self.jwks_url)

    def client_secret(self, client_id: str) -> str | None:
        """The OAuth2 secret for ``client_id`` from ``CONVEYOR_CLIENT_SECRET_<CLIENT_ID>``."""
        return self.client_secrets.get(client_secret_env(client_id))

    def __repr__(self) -> str:
        """Every field, with secrets hidden and URL passwords masked (safe to log)."""
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.repr:
                value = "***" if value else value
            elif f.name in _URLS and value:
                value = mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def describe(self) -> str:
        """A one-line summary safe to log (no secrets, passwords masked)."""
        broker = mask_url(self.broker) if self.broker else "in-process"
        return f"store={mask_url(self.store)} broker={broker} handlers={self.handlers}"


OPTIONS: tuple[Option, ...] = (
    Option("host", _str, "address to listen on"),
    Option("port", _port, "TCP port to listen on"),
    # Slow and broken clients: one block, gateway only.
    Option("max_connections", _positive_int, "most open client connections; more get 503"),
    Option("header_timeout_seconds", _positive_float, "a request's head must arrive in this"),
    Option("body_timeout_seconds", _positive_float, "a request's body must arrive in this"),
    Option("idle_timeout_seconds", _positive_float, "close connections idle this long"),
    Option("max_header_bytes", _positive_int, "largest request header line (else 431)"),
    Option(
        "store",
        _store_url,
        "record store: sqlite:///PATH (its directory must exist) or mongodb://…",
    ),
    Option(
        "broker",
        _broker_url,
        "RabbitMQ URL amqp://…; gateway and consumer need one (serve: in-process when absent)",
    ),
    Option(
        "rabbitmq_management_url",
        _http_url,
        "RabbitMQ management API http://user:pass@host:15672 (dashboard consumer counts)",
    ),
    Option("handlers", Path, "directory of *.queue.json definitions and their handlers"),
    Option("queues", _csv, "consumer: only these queues (comma-separated); default all"),
    Option("concurrency", _positive_int, "consumer: messages run at once per queue (prefetch)"),
    Option("grace_seconds", _positive_float, "on SIGTERM, how long in-flight handlers may finish"),
    Option("lease_seconds", _positive_float, "how long a claim holds before others may take over"),
    Option("max_body_bytes", _positive_int, "largest accepted request body in bytes"),
    Option("max_json_depth", _json_depth, "most nesting levels of arrays/objects in a body"),
    Option("rate_limit_requests", _positive_int, "pushes per caller per window (off when unset)"),
    Option("rate_limit_per_seconds", _positive_float, "the global rate limit's window in seconds"),
    Option("batch_max_items", _positive_int, "most items in one POST /{queue}/batch"),
    Option(
        "public_openapi",
        _bool,
        "serve GET /openapi.json without a token (else any valid token is needed)",
        switch=True,
    ),
    Option("access_log", _bool, "no access log (one INFO line per request)", switch=True, off=True),
    Option("jwt_secret", _str, "shared secret verifying HS256/HS384/HS512 tokens"),
    Option(
        "jwt_public_key",
        Path,
        "PEM public key file: RSA (RS*/PS*), EC (ES*) or Ed25519 (EdDSA); repeatable",
        repeat=True,
    ),
    Option("jwks_url", _str, "JWKS URL of the OIDC identity provider"),
    Option("jwt_issuer", _str, "required `iss` claim"),
    Option("jwt_audience", _str, "required `aud` claim"),
    Option("roles_claim", _str, "extra dotted claim path holding roles, e.g. realm_access.roles"),
    Option("jwt_leeway_seconds", _non_negative_float, "clock skew allowed on exp/nbf"),
    Option("token_url", _str, "OAuth2 token endpoint for ctx.auth (client credentials)"),
    Option("queue_prefix", _str, "RabbitMQ queue name prefix"),
    Option("delivery_limit", _positive_int, "RabbitMQ deliveries before dead-lettering"),
    Option("mongo_database", _str, "MongoDB database name"),
    Option("mongo_collection", _str, "MongoDB collection for messages"),
    Option("sweep_interval_seconds", _positive_float, "consumer: seconds between recovery sweeps"),
    Option(
        "reload_interval_seconds",
        _non_negative_float,
        "seconds between checks of --handlers for changes (hot reload; 0: only on SIGHUP)",
    ),
    Option("republish_after_seconds", _positive_float, "republish unpublished PENDING this old"),
    Option(
        "start_timeout_seconds",
        _non_negative_float,
        "at start, keep retrying an unreachable store or broker this long, then exit (0: once)",
    ),
    Option("log_level", _log_level, "debug, info, warning or error"),
    Option("log_format", _log_format, "text, or json (one JSON object per line)"),
    Option("event_loop", _event_loop, "asyncio, or uvloop (needs the extra conveyor[uvloop])"),
    Option(
        "metrics_port",
        _port,
        "serve /metrics (every series), /healthz and /readyz on this port, to anyone "
        "(gateway: /metrics leaves the API port; consumer: 0 = off)",
    ),
    Option(
        "trusted_proxies",
        _networks,
        "reverse proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For is believed",
    ),
    Option(
        "drain_seconds",
        _non_negative_float,
        "gateway: on SIGTERM, seconds /readyz answers 503 before new requests are refused",
    ),
    Option(
        "events_heartbeat_seconds",
        _positive_float,
        "gateway: an event stream sends a comment after this long without an event",
    ),
    Option(
        "events_max_seconds",
        _positive_float,
        "gateway: an event stream ends after this long (the client reconnects)",
    ),
    Option(
        "test_clock_file",
        Path,
        "TEST ONLY, never in production: cron schedules read the time from this file",
    ),
)

_BY_NAME = {opt.name: opt for opt in OPTIONS}


def add_arguments(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """Add the flags for ``names`` to ``parser``; defaults are resolved later, not here."""
    defaults = Settings()
    for name in names:
        opt = _BY_NAME[name]
        default = getattr(defaults, name)
        shown = "unset" if default in (None, ()) or name == "jwt_secret" else default
        if opt.switch:
            parser.add_argument(
                opt.flag,
                dest=name,
                action="store_const",
                const=str(not opt.off).lower(),
                default=None,
                help=f"{opt.help} (env {opt.env}={str(not opt.off).lower()}; "
                f"default {str(default).lower()})",
            )
            continue
        parser.add_argument(
            opt.flag,
            dest=name,
            action="append" if opt.repeat else "store",
            default=None,
            metavar=name.split("_")[-1].upper(),
            help=f"{opt.help} (env {opt.env}; default {shown})",
        )


def _parse_one(opt: Option, raw: str, source: str) -> Any:
    try:
        return opt.parse(raw)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{source}: bad value {raw!r}: {exc}") from None


def parse_settings(args: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from parsed flags (``None`` = not given) and the environment.

    Raises SettingsError on a bad value or an unknown ``CONVEYOR_*`` variable.
    """
    env = os.environ if environ is None else environ
    known = {opt.env for opt in OPTIONS}
    for key in env:
        if key.startswith(ENV_PREFIX) and key not in known:
            if key.startswith(CLIENT_SECRET_PREFIX):
                continue
            raise SettingsError(f"{key}: unknown setting (see `conveyor serve --help`)")
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        raw = args.get(opt.name)
        if raw is not None:
            items = raw if opt.repeat else [raw]
            parsed = [_parse_one(opt, str(item), opt.flag) for item in items]
            values[opt.name] = tuple(parsed) if opt.repeat else parsed[0]
        elif opt.env in env and env[opt.env] != "":
            if opt.repeat:
                parts = env[opt.env].split(os.pathsep)
                values[opt.name] = tuple(_parse_one(opt, p, opt.env) for p in parts if p)
            else:
                values[opt.name] = _parse_one(opt, env[opt.env], opt.env)
    secrets = {key: value for key, value in env.items() if key.startswith(CLIENT_SECRET_PREFIX)}
    settings = Settings(**values, client_secrets=secrets)
    for path in settings.jwt_public_key:
        if not path.is_file():
            raise SettingsError(f"--jwt-public-key: no such file {path}")
    _check_sqlite_path(settings)
    return settings


def _check_sqlite_path(settings: Settings) -> None:
    """A SQLite file's directory must exist: a typo must not create directories (and a new
    ``conveyor.secret`` there). The default ``./conveyor.db`` is always fine."""
    path = settings.sqlite_path
    if path is None or settings.store == DEFAULT_STORE:
        return
    if path.is_dir():
        raise SettingsError(f"--store {settings.store}: {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise SettingsError(
            f"--store {settings.store}: no such directory {path.parent} (create it first)"
        )


def client_secret_env(client_id: str) -> str:
    """The variable that holds ``client_id``'s secret (non-alphanumerics become ``_``)."""
    return CLIENT_SECRET_PREFIX + "".join(c if c.isalnum() else "_" for c in client_id).upper()
