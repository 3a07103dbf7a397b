"""A subcommand's flags, derived from the declarations: each setting whose ``commands`` name
the subcommand becomes one flag, in declaration order, with its help, variable and default."""

from __future__ import annotations

import argparse

from shared.platform.settings.declare import Option
from shared.platform.settings.options import OPTIONS


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the flags of the settings ``command`` takes; defaults are resolved later, not here
    (a flag left out is ``None``, so the variable, then the declared default, applies)."""
    for opt in OPTIONS:
        if command in opt.commands:
            _add(parser, opt)


def _add(parser: argparse.ArgumentParser, opt: Option) -> None:
    if opt.switch:
        parser.add_argument(
            opt.flag,
            dest=opt.name,
            action="store_const",
            const=str(not opt.off).lower(),
            default=None,
            help=f"{opt.help} (env {opt.env}={str(not opt.off).lower()}; "
            f"default {str(opt.default).lower()})",
        )
        return
    shown = "unset" if opt.default in (None, ()) or opt.secret else opt.default
    parser.add_argument(
        opt.flag,
        dest=opt.name,
        action="append" if opt.repeat else "store",
        default=None,
        metavar=opt.name.split("_")[-1].upper(),
        help=f"{opt.help} (env {opt.env}; default {shown})",
    )
