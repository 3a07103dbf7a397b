"""``conveyor check``: load every definition and handler and print a table."""

from __future__ import annotations

from pathlib import Path

from shared.queues.definitions import DefinitionError, definition_files, load_definition
from shared.queues.registry import load_handler
from shared.queues.roles import allowed_roles


def check(directory: Path) -> tuple[str, bool]:
    """The report and whether everything loaded."""
    rows = [("queue", "roles allowed", "schema", "handler")]
    problems: list[str] = []
    if not directory.is_dir():
        return f"{directory}: no such directory", False
    seen: set[str] = set()
    for path in definition_files(directory):
        name = path.name.removesuffix(".queue.json")
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            rows.append((name, "-", "FAIL", "-"))
            problems.append(str(exc))
            continue
        if definition.name.lower() in seen:
            problems.append(f"{path}: duplicate queue name {definition.name}")
        seen.add(definition.name.lower())
        roles = (
            "anyone (auth off)"
            if not definition.auth_enabled
            else "any valid token"
            if not definition.roles.needs_role
            else ", ".join(sorted(allowed_roles(definition.name, definition.roles)))
        )
        try:
            load_handler(definition)
            handler = "ok"
        except DefinitionError as exc:
            handler = "FAIL"
            problems.append(str(exc))
        rows.append((definition.name, roles, "ok", handler))
    if len(rows) == 1:
        problems.append(f"{directory}: no *.queue.json definitions")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += ["", *problems] if problems else []
    return "\n".join(lines), not problems
