"""One frozen settings object per process, built once from CLI flags and ``CONVEYOR_*``.

Every setting is a flag and an environment variable (flag ``--jwt-secret`` ↔ variable
``CONVEYOR_JWT_SECRET``); a flag wins over the variable. A bad value, or an unknown
``CONVEYOR_*`` variable, fails at start with a one-line reason (:class:`SettingsError`). The
only variables outside the table are ``CONVEYOR_CLIENT_SECRET_<CLIENT_ID>``, the OAuth2
client secrets handlers use through ``ctx.auth``.

Each setting is declared once (``declare.option``) as a field of :class:`Settings`; the
subcommands' flags (``flags``) and the documentation's settings table (``doc``) are derived
from the declarations. Modules: ``values`` (value parsers), ``declare`` (how a setting is
declared), ``process_options``/``http_options``/``consumer_options`` (the declarations),
``options`` (:class:`Settings`), ``load`` (:func:`parse_settings`), ``flags``, ``doc``.
"""

from shared.platform.settings.declare import (
    CLIENT_SECRET_PREFIX,
    COMMANDS,
    ENV_PREFIX,
    Option,
    client_secret_env,
)
from shared.platform.settings.flags import add_arguments
from shared.platform.settings.load import SettingsError, parse_settings
from shared.platform.settings.options import OPTIONS, Settings
from shared.platform.settings.process_options import DEFAULT_STORE
from shared.platform.settings.values import MAX_JSON_DEPTH_LIMIT, mask_url

__all__ = [
    "CLIENT_SECRET_PREFIX",
    "COMMANDS",
    "DEFAULT_STORE",
    "ENV_PREFIX",
    "MAX_JSON_DEPTH_LIMIT",
    "OPTIONS",
    "Option",
    "Settings",
    "SettingsError",
    "add_arguments",
    "client_secret_env",
    "mask_url",
    "parse_settings",
]
