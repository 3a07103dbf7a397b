"""``Settings``: every setting in one frozen object, and ``OPTIONS``, their declarations.

Each setting is declared once, as a field made by ``declare.option``, in the module of the
side of Conveyor that takes it: ``process_options`` (every daemon), ``http_options``
(``serve`` and ``gateway``), ``consumer_options`` (``serve`` and ``consumer``). ``Settings``
inherits the three, so its fields are in that order: the order ``conveyor serve --help`` and
the documentation's settings table list them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from shared.platform.settings.consumer_options import ConsumerOptions
from shared.platform.settings.declare import Option, client_secret_env, declared_options
from shared.platform.settings.http_options import HttpOptions
from shared.platform.settings.process_options import ProcessOptions
from shared.platform.settings.values import mask_url

#: Fields holding URLs, printed with any password masked.
_URLS = ("store", "broker", "rabbitmq_management_url", "jwks_url", "token_url")


# Fields come from the bases in reverse order: ProcessOptions', HttpOptions', ConsumerOptions'.
@dataclass(frozen=True, repr=False)
class Settings(ConsumerOptions, HttpOptions, ProcessOptions):
    """Everything a Conveyor process is configured with. Build with ``parse_settings``."""

    #: Not a flag: the ``CONVEYOR_CLIENT_SECRET_<CLIENT_ID>`` variables.
    client_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Not a flag: this process is child *i* of ``--processes N`` (``CONVEYOR_CHILD_INDEX``,
    #: set by the parent, ``conveyor.processes``); None in a process started by hand.
    child_index: int | None = None

    @property
    def instance_suffix(self) -> str:
        """``-childI`` in child *i* of ``--processes N``, else empty: for names shown to
        operators (RabbitMQ connection names, claim owners)."""
        return "" if self.child_index is None else f"-child{self.child_index}"

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


#: Every setting, in declaration order.
OPTIONS: tuple[Option, ...] = declared_options(Settings)
