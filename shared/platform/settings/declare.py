"""How a setting is declared: once, as a field of ``Settings`` made by :func:`option`.

The declaration carries everything else is derived from: the field's name gives the flag
(``--jwt-secret``) and the variable (``CONVEYOR_JWT_SECRET``); its default, parser and help
give the ``--help`` line; its commands say which subcommands take the flag; ``doc`` and
``shown`` are its row in the documentation's settings table (``settings.doc``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

ENV_PREFIX = "CONVEYOR_"
CLIENT_SECRET_PREFIX = "CONVEYOR_CLIENT_SECRET_"
#: Not a setting: set by the parent of ``--processes N`` in child *i*'s environment (0..N-1).
CHILD_INDEX_ENV = "CONVEYOR_CHILD_INDEX"

#: The subcommands that take settings, in the order the documentation lists them.
COMMANDS = ("serve", "gateway", "consumer", "token", "check", "release-prefix")
#: The long-running processes.
DAEMONS = ("serve", "gateway", "consumer")
#: The processes that answer HTTP requests (the gateway alone or inside ``serve``).
HTTP = ("serve", "gateway")
#: The processes that run handlers (the consumer alone or inside ``serve``).
CONSUMING = ("serve", "consumer")

_KEY = "conveyor.option"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Option:
    """One setting, as declared (see :func:`option`); ``name`` is its ``Settings`` field."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    commands: tuple[str, ...]
    doc: str = ""
    shown: str = ""
    repeat: bool = False
    switch: bool = False
    off: bool = False
    secret: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.commands) - set(COMMANDS)
        if unknown or not self.commands:
            raise ValueError(f"{self.name}: commands must be some of {COMMANDS}: {unknown}")

    @property
    def flag(self) -> str:
        return ("--no-" if self.off else "--") + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def meaning(self) -> str:
        """What the documentation's table says it does (markdown)."""
        return self.doc or self.help


def option(
    default: T,
    parse: Callable[[str], Any],
    help: str,
    commands: tuple[str, ...],
    *,
    doc: str = "",
    shown: str = "",
    repeat: bool = False,
    switch: bool = False,
    off: bool = False,
    secret: bool = False,
) -> T:
    """Declare a ``Settings`` field as a setting.

    ``parse`` turns a flag's or variable's text into the value (``ValueError``: a bad value);
    ``help`` is the ``--help`` text and ``commands`` the subcommands that take the flag.
    ``doc`` is the documentation table's meaning (markdown; default ``help``), ``shown`` its
    default when the value's own text would mislead (``all``, ``— (off)``).
    A ``repeat`` flag may be given more than once (its variable is ``:``-separated).
    A ``switch`` is a flag without a value (``--public-openapi``) that sets it true; its
    variable takes ``true``/``false`` (or 1/0, yes/no, on/off). A switch that is ``off``
    is spelt ``--no-NAME`` and sets it false. A ``secret`` is hidden in ``repr``.
    """
    declared = Option("", default, parse, help, commands, doc, shown, repeat, switch, off, secret)
    return dataclasses.field(default=default, repr=not secret, metadata={_KEY: declared})


def declared_options(cls: type) -> tuple[Option, ...]:
    """The settings declared on the dataclass ``cls``, in declaration order."""
    return tuple(
        dataclasses.replace(f.metadata[_KEY], name=f.name)
        for f in dataclasses.fields(cls)
        if _KEY in f.metadata
    )


def client_secret_env(client_id: str) -> str:
    """The variable that holds ``client_id``'s secret (non-alphanumerics become ``_``)."""
    return CLIENT_SECRET_PREFIX + "".join(c if c.isalnum() else "_" for c in client_id).upper()
