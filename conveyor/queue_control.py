"""``conveyor queue pause|resume NAME --url URL``: pause or resume a queue through a gateway.

The token comes from ``CONVEYOR_TOKEN`` (an admin of the queue: ``system_admin`` or
``<queue>_admin``; none for a queue with auth switched off). Prints the answer's state on one
line and exits 0; a refusal (401, 403, 404, 503 ...) is one line on stderr and exit 1; a
gateway that cannot be reached is one line and exit 3 (as ``cannot start``).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10.0


def add_parser(sub: Any) -> None:
    """The ``queue`` subcommand and its actions."""
    queue = sub.add_parser("queue", help="pause or resume a queue through a gateway")
    actions = queue.add_subparsers(dest="action", required=True)
    for action, summary in (
        ("pause", "consumers take no new message of the queue"),
        ("resume", "the queue runs again (its parked messages first)"),
    ):
        one = actions.add_parser(action, help=summary)
        one.add_argument("name", metavar="NAME", help="the queue")
        one.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")


def _detail(body: bytes) -> str:
    """A problem document's first error message (or its detail), else the text."""
    try:
        problem = json.loads(body)
        errors = problem.get("errors") or []
        return str(errors[0].get("message") if errors else problem.get("detail"))
    except (ValueError, AttributeError, IndexError):
        return " ".join(body.decode(errors="replace").split())[:200]


def run(args: dict[str, Any]) -> int:
    """Call ``POST {url}/{name}/{action}``; the exit status."""
    name = urllib.parse.quote(args["name"], safe="")
    url = f"{args['url'].rstrip('/')}/{name}/{args['action']}"
    request = urllib.request.Request(url, data=b"", method="POST")
    token = os.environ.get("CONVEYOR_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:
            state = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        print(f"conveyor: {exc.code} {exc.reason}: {_detail(exc.read())}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"conveyor: cannot reach {args['url']}: {reason}", file=sys.stderr)
        return 3
    if state.get("paused"):
        print(f"{state['queue']} paused since {state['paused_at']} by {state['paused_by']}")
    else:
        print(f"{state['queue']} running")
    return 0
