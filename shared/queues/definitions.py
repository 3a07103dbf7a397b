"""Queue definitions: ``<dir>/<name>.queue.json`` files, parsed and validated.

A definition has the original service's keys (``name``, ``client_id``, ``roles``,
``incoming.schema``) plus ``security`` (``{"mechanism": "none"}`` switches auth off) and an
optional ``description`` and ``schedules`` (cron pushes, ``shared.domain.cron``); schema
properties marked ``"x-conveyor-index": true`` are searchable (``indexed_fields``). Unknown keys
are rejected so a typo cannot silently change behaviour. A file over 1 MiB, or nesting arrays
and objects more than 64 deep, is refused before it is parsed. Each failure names the file and
the reason (:class:`DefinitionError`), whatever went wrong.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators

from shared.domain.cron import Schedule, ScheduleError, parse_schedules
from shared.domain.message import Json
from shared.domain.schema_validator import SchemaValidator, compile_fast
from shared.queues.indexed_fields import FieldKind, IndexMarkError, indexed_fields

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SUFFIX = ".queue.json"
OPTION_KEYS = frozenset(
    {
        "timeout_seconds",
        "max_attempts",
        "retry_backoff_seconds",
        "retry_backoff_max_seconds",
        "result_ttl_seconds",
        "max_delay_seconds",
        "rate_limit",
        "when_paused",
    }
)
#: What a push to a paused queue gets: recorded (and parked by the consumer) or a 503.
WHEN_PAUSED = ("accept", "refuse")
TOP_LEVEL_KEYS = frozenset(
    {"name", "client_id", "roles", "incoming", "security", "description", "schedules"} | OPTION_KEYS
)
ROLES_KEYS = frozenset({"needsRole", "replace", "roles"})
#: Names a queue may not take, each with the gateway's own endpoint its ``/{queue}`` routes
#: would collide with (the gateway registers the fixed routes first, so such a queue would be
#: unreachable; ``gateway.routes``).
RESERVED_NAMES: dict[str, str] = {
    "healthz": "GET /healthz",
    "readyz": "GET /readyz",
    "metrics": "GET /metrics",
    "docs": "GET /docs",
    "queues": "GET /queues",
    "workers": "GET /workers",
    "audit": "GET /audit",
    "ui": "GET /ui",
    "batches": "GET /batches",
}
DEFAULT_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: A larger definition file is a load error (and is not read past this).
MAX_DEFINITION_BYTES = 1024 * 1024
#: Deeper nesting of arrays and objects is a load error, checked before parsing.
MAX_DEFINITION_DEPTH = 64
#: A JSON string (escapes included) and anything but a bracket, for :func:`too_deep`.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def error_text(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` (just ``Type`` without a message), on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class DefinitionError(Exception):
    """A definition file is invalid; ``str()`` names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RoleRules:
    """The ``roles`` block: defaults ``needsRole: true``, ``replace: false``, ``roles: []``."""

    needs_role: bool = True
    replace: bool = False
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` pushes per ``per_seconds`` for one caller."""

    requests: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class QueueOptions:
    """Behaviour beyond the original service; the defaults keep the original behaviour.

    ``timeout_seconds``: a run longer than this is cancelled and ends ``ERROR`` (None: no
    limit). ``max_attempts``: runs before a failure is final (1: no retries), waiting
    ``retry_backoff_seconds * 2**(attempt-1)`` (capped at ``retry_backoff_max_seconds``, with
    jitter) between them. ``result_ttl_seconds``: final messages are deleted this long after
    they finished (None: kept). ``rate_limit``: pushes per caller (None: unlimited).
    ``max_delay_seconds``: the furthest in the future a push may ask to start (7 days).
    ``when_paused``: ``accept`` (pushes to the paused queue are recorded and wait) or
    ``refuse`` (they get 503 with ``Retry-After``).
    """

    timeout_seconds: float | None = None
    max_attempts: int = 1
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 300.0
    result_ttl_seconds: float | None = None
    rate_limit: RateLimit | None = None
    max_delay_seconds: float = 7 * 24 * 3600.0
    when_paused: str = "accept"


@dataclass(frozen=True, slots=True)
class QueueDefinition:
    """A validated queue definition."""

    name: str
    path: Path
    schema: Json
    validator: SchemaValidator
    roles: RoleRules
    client_id: str | None = None
    auth_enabled: bool = True
    description: str | None = None
    options: QueueOptions = QueueOptions()
    #: Cron schedules (``shared.domain.cron``), in definition order.
    schedules: tuple[Schedule, ...] = ()
    #: The searchable fields (``shared.queues.indexed_fields``): name → type.
    indexed: dict[str, FieldKind] = field(default_factory=dict)

    @property
    def handler_path(self) -> Path:
        """The handler module beside the definition: ``<dir>/<name>.py``."""
        return self.path.with_name(self.name + ".py")


def _require_bool(path: Path, data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise DefinitionError(path, f"roles.{key} must be true or false")
    return value


def _parse_roles(path: Path, raw: Json) -> RoleRules:
    if raw is None:
        return RoleRules()
    if not isinstance(raw, dict):
        raise DefinitionError(path, "roles must be an object")
    unknown = sorted(set(raw) - ROLES_KEYS)
    if unknown:
        raise DefinitionError(path, f"unknown key(s) in roles: {', '.join(unknown)}")
    roles = raw.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise DefinitionError(path, "roles.roles must be a list of non-empty strings")
    return RoleRules(
        needs_role=_require_bool(path, raw, "needsRole", True),
        replace=_require_bool(path, raw, "replace", False),
        roles=tuple(roles),
    )


def _parse_security(path: Path, raw: Json) -> bool:
    """True if auth is on. Only ``{"mechanism": "none"}`` or ``"default"`` are understood."""
    if raw is None:
        return True
    if not isinstance(raw, dict) or set(raw) - {"mechanism"}:
        raise DefinitionError(path, 'security must be {"mechanism": "none"|"default"}')
    mechanism = raw.get("mechanism", "default")
    if mechanism not in ("none", "default"):
        raise DefinitionError(
            path, f"security.mechanism must be none or default, not {mechanism!r}"
        )
    return bool(mechanism != "none")


def _number(path: Path, data: dict[str, Any], key: str, *, integer: bool = False) -> Any:
    """``data[key]`` if absent/None or a positive number (an integer if asked)."""
    value = data.get(key)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise DefinitionError(path, f"{key} must be {kind}")
    if not integer and value == float("inf"):
        raise DefinitionError(path, f"{key} must be finite")
    return value


def _parse_rate_limit(path: Path, raw: Json) -> RateLimit | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"requests", "per_seconds"}:
        raise DefinitionError(path, 'rate_limit must be {"requests": N, "per_seconds": S}')
    requests = _number(path, raw, "requests", integer=True)
    per_seconds = _number(path, raw, "per_seconds")
    return RateLimit(requests=requests, per_seconds=float(per_seconds))


def parse_options(path: Path, data: dict[str, Any]) -> QueueOptions:
    """The :class:`QueueOptions` keys of a definition, validated."""
    defaults = QueueOptions()
    timeout = _number(path, data, "timeout_seconds")
    attempts = _number(path, data, "max_attempts", integer=True)
    backoff = _number(path, data, "retry_backoff_seconds")
    backoff_max = _number(path, data, "retry_backoff_max_seconds")
    ttl = _number(path, data, "result_ttl_seconds")
    max_delay = _number(path, data, "max_delay_seconds")
    options = QueueOptions(
        timeout_seconds=float(timeout) if timeout is not None else None,
        max_attempts=attempts if attempts is not None else defaults.max_attempts,
        retry_backoff_seconds=float(backoff)
        if backoff is not None
        else defaults.retry_backoff_seconds,
        retry_backoff_max_seconds=float(backoff_max)
        if backoff_max is not None
        else defaults.retry_backoff_max_seconds,
        result_ttl_seconds=float(ttl) if ttl is not None else None,
        rate_limit=_parse_rate_limit(path, data.get("rate_limit")),
        max_delay_seconds=float(max_delay) if max_delay is not None else defaults.max_delay_seconds,
        when_paused=data.get("when_paused", defaults.when_paused),
    )
    if options.when_paused not in WHEN_PAUSED:
        raise DefinitionError(path, 'when_paused must be "accept" or "refuse"')
    if options.retry_backoff_max_seconds < options.retry_backoff_seconds:
        raise DefinitionError(path, "retry_backoff_max_seconds must be >= retry_backoff_seconds")
    return options


def build_validator(path: Path, schema: Json) -> SchemaValidator:
    """A validator for ``schema`` after checking it against its metaschema, compiled once
    when the definition loads (with jsonschema-rs's fast path where it applies:
    ``shared.domain.schema_validator``).

    Honours ``$schema``; without one, draft 2020-12.
    """
    if not isinstance(schema, (dict, bool)):
        raise DefinitionError(path, "incoming.schema must be a JSON Schema object")
    default_cls = jsonschema.validators.validator_for({"$schema": DEFAULT_SCHEMA_DIALECT})
    cls = jsonschema.validators.validator_for(schema, default=default_cls)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise DefinitionError(
            path, f"incoming.schema is not a valid JSON Schema at {where}: {exc.message}"
        ) from None
    checker = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return SchemaValidator(checker=checker, fast=compile_fast(schema, cls))


def parse_definition(path: Path, data: Json) -> QueueDefinition:
    """Validate one parsed definition document read from ``path``."""
    if not isinstance(data, dict):
        raise DefinitionError(path, "a definition must be a JSON object")
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise DefinitionError(
            path,
            f"unknown key(s): {', '.join(unknown)} (allowed: {', '.join(sorted(TOP_LEVEL_KEYS))})",
        )
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DefinitionError(path, f"name {name!r} must match {NAME_RE.pattern}")
    if name in RESERVED_NAMES:
        raise DefinitionError(
            path, f"name {name!r} is reserved for the gateway's own {RESERVED_NAMES[name]}"
        )
    if path.name != name + SUFFIX:
        raise DefinitionError(path, f"name {name!r} does not match the file name {path.name}")
    client_id = data.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or not client_id):
        raise DefinitionError(path, "client_id must be a non-empty string")
    incoming = data.get("incoming")
    if not isinstance(incoming, dict) or "schema" not in incoming or set(incoming) - {"schema"}:
        raise DefinitionError(path, 'incoming must be {"schema": {...}}')
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise DefinitionError(path, "description must be a string")
    schema = incoming["schema"]
    validator = build_validator(path, schema)
    try:
        schedules = parse_schedules(data.get("schedules"), validator)
    except ScheduleError as exc:
        raise DefinitionError(path, str(exc)) from None
    try:
        indexed = indexed_fields(schema)
    except IndexMarkError as exc:
        raise DefinitionError(path, f"incoming.schema: {exc}") from None
    return QueueDefinition(
        name=name,
        path=path,
        schema=schema,
        validator=validator,
        schedules=schedules,
        indexed=indexed,
        roles=_parse_roles(path, data.get("roles")),
        client_id=client_id,
        auth_enabled=_parse_security(path, data.get("security")),
        description=description,
        options=parse_options(path, data),
    )


def too_deep(text: str, limit: int) -> bool:
    """True if ``text`` nests arrays and objects more than ``limit`` deep (brackets inside
    JSON strings do not count). A scan, not a parse: no recursion, however deep."""
    depth = 0
    for bracket in _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _read_json(path: Path) -> Json:
    """The JSON document in ``path``: at most :data:`MAX_DEFINITION_BYTES` read, nesting
    checked before parsing. Raises DefinitionError."""
    try:
        # O_NONBLOCK: a FIFO named *.queue.json must not block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise DefinitionError(path, "is not a regular file")
            raw = file.read(MAX_DEFINITION_BYTES + 1)  # no more, even if it grows meanwhile
    except OSError as exc:
        raise DefinitionError(path, f"cannot read JSON: {exc}") from None
    if len(raw) > MAX_DEFINITION_BYTES:
        raise DefinitionError(
            path, f"is over 1 MiB ({MAX_DEFINITION_BYTES} bytes), the most a definition may be"
        )
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(bytes)
    except ValueError as exc:
        raise DefinitionError(path, f"cannot read JSON: {exc}") from None
    if too_deep(text, MAX_DEFINITION_DEPTH):
        raise DefinitionError(
            path, f"nests arrays/objects more than {MAX_DEFINITION_DEPTH} levels deep"
        )
    try:
        data: Json = json.loads(text)
        return data
    except ValueError as exc:
        raise DefinitionError(path, f"cannot read JSON: {exc}") from None


def load_definition(path: Path) -> QueueDefinition:
    """Read and validate one ``*.queue.json`` file.

    Raises DefinitionError, for anything that goes wrong (whatever was raised, a
    ``RecursionError`` included): one file never stops the others from loading."""
    try:
        return parse_definition(path, _read_json(path))
    except DefinitionError:
        raise
    except Exception as exc:
        raise DefinitionError(path, f"does not load: {error_text(exc)}") from None


def definition_files(directory: Path) -> list[Path]:
    """Every ``*.queue.json`` in ``directory``, sorted by name."""
    return sorted(directory.glob("*" + SUFFIX))
