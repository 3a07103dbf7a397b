"""Building the one :class:`Settings` of a process from parsed flags and ``CONVEYOR_*``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shared.platform.settings.declare import (
    CHILD_INDEX_ENV,
    CLIENT_SECRET_PREFIX,
    ENV_PREFIX,
    Option,
)
from shared.platform.settings.options import OPTIONS, Settings
from shared.platform.settings.process_options import DEFAULT_STORE


class SettingsError(ValueError):
    """A setting has a bad value; the message is one line naming it."""


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
    known = {opt.env for opt in OPTIONS} | {CHILD_INDEX_ENV}
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
    child = _child_index(env.get(CHILD_INDEX_ENV, ""))
    settings = Settings(**values, client_secrets=secrets, child_index=child)
    for path in settings.jwt_public_key:
        if not path.is_file():
            raise SettingsError(f"--jwt-public-key: no such file {path}")
    _check_sqlite_path(settings)
    return settings


def _child_index(raw: str) -> int | None:
    """Child *i* of ``--processes N`` (``CONVEYOR_CHILD_INDEX``, set by the parent), or None."""
    if raw == "":
        return None
    try:
        index = int(raw)
    except ValueError:
        index = -1
    if index < 0:
        raise SettingsError(f"{CHILD_INDEX_ENV}: bad value {raw!r}: must be an index 0, 1, …")
    return index


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
