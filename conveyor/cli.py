"""The ``conveyor`` command: serve, gateway, consumer, token, check, release-prefix, init,
queue (pause/resume, ``conveyor.queue_control``); ``--version``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor import queue_control
from shared.platform.settings import Settings, SettingsError, add_arguments, parse_settings
from shared.platform.version import installed_version


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand; a subcommand's settings flags come from the
    settings' declarations (each names the subcommands that take it)."""
    parser = argparse.ArgumentParser(
        prog="conveyor", description="Named queues behind an authenticated HTTP API."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    daemons = {
        "serve": "gateway and consumer in one process (embedded)",
        "gateway": "the HTTP gateway alone",
        "consumer": "the consumer daemon alone",
    }
    for command, summary in daemons.items():
        add_arguments(sub.add_parser(command, help=summary), command)
    # Not offered by `serve`, but taken there to be refused with one line (not a usage error).
    sub.choices["serve"].add_argument("--processes", default=None, help=argparse.SUPPRESS)
    token = sub.add_parser("token", help="print a signed token for trying things out")
    token.add_argument("--sub", default="conveyor-user", help="subject (default conveyor-user)")
    token.add_argument("--roles", default="", help="comma-separated roles")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--create-secret",
        action="store_true",
        help="with no key configured: create the signing secret beside the --store database "
        "if it does not exist yet (by default only the one `conveyor serve` created is used)",
    )
    add_arguments(token, "token")
    check = sub.add_parser("check", help="load every definition and handler; exit 1 on a problem")
    add_arguments(check, "check")
    release = sub.add_parser(
        "release-prefix",
        help="unbind --queue-prefix from its store (after that store was wiped on purpose)",
    )
    add_arguments(release, "release-prefix")
    init = sub.add_parser("init", help="write the example queues (myQueue, orders) into DIR")
    init.add_argument("directory", metavar="DIR", type=Path, help="handlers directory to fill")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    queue_control.add_parser(sub)
    return parser


def _configure_logging(level: str, log_format: str = "text") -> None:
    from shared.platform.logs import JsonFormatter, text_formatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else text_formatter())
    logging.basicConfig(level=level, handlers=[handler])


def _init(directory: Path, force: bool) -> int:
    from conveyor.init import InitError, init

    try:
        written = init(directory, force=force)
    except InitError as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"run them: conveyor serve --handlers {directory}")
    return 0


def require_startable(command: str, settings: Settings) -> None:
    """Refuse (SettingsError) a daemon that would start but could never work.

    ``gateway`` and ``consumer`` need a broker: in-process delivery only joins a gateway and
    a consumer inside one ``serve`` process. Every daemon needs its ``--handlers`` directory.
    ``--processes N`` must fit (``conveyor.processes.check_processes``).
    """
    from conveyor.processes import check_processes

    check_processes(command, settings)
    if command in ("gateway", "consumer") and settings.broker is None:
        raise SettingsError(
            f"conveyor {command} needs --broker amqp://… (RabbitMQ): in-process delivery "
            "only works inside `conveyor serve`"
        )
    if not settings.handlers.is_dir():
        raise SettingsError(f"--handlers {settings.handlers}: no such directory")


def _run(command: str, settings: Settings, args: dict[str, Any], argv: Sequence[str]) -> int:
    if command == "init":
        return _init(args["directory"], args["force"])
    if command == "check":
        from conveyor.check import check

        report, ok = check(settings.handlers)
        print(report)
        return 0 if ok else 1
    if command == "token":
        from conveyor.serve import with_signing_key
        from conveyor.tokens import mint_token

        roles = [r.strip() for r in args["roles"].split(",") if r.strip()]
        signing = with_signing_key(settings, create=args["create_secret"])
        print(mint_token(signing, args["sub"], roles, args["ttl"]))
        return 0
    if command == "release-prefix":
        from conveyor.release import release

        return release(settings)
    require_startable(command, settings)
    if settings.processes > 1:
        import asyncio

        from conveyor.processes import supervise

        return asyncio.run(supervise(command, settings, argv))
    if settings.child_index is not None:
        from conveyor.processes import follow_parent

        follow_parent()
    from conveyor.loops import EventLoopUnavailable, run

    try:
        if command == "serve":
            from conveyor.serve import run_serve

            run(run_serve(settings), settings.event_loop)
        elif command == "gateway":
            from gateway.app import run_gateway

            run(run_gateway(settings), settings.event_loop)
        else:
            from consumer.main import run_consumer

            run(run_consumer(settings), settings.event_loop)
    except EventLoopUnavailable as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = vars(build_parser().parse_args(arguments))
    if args["command"] == "queue":
        return queue_control.run(args)
    try:
        settings = parse_settings(args)
        _configure_logging(settings.log_level, settings.log_format)
        return _run(args["command"], settings, args, arguments)
    except SettingsError as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from shared.platform.startup import CannotStart
        from shared.ports import DeliveryUnavailable, StoreUnavailable

        if isinstance(exc, CannotStart | StoreUnavailable | DeliveryUnavailable):
            print(f"conveyor: cannot start: {exc}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
