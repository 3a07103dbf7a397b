"""The documentation's settings table, generated from the declarations.

``python -m shared.platform.settings.doc [FILE]`` rewrites the table between the :data:`BEGIN`
and :data:`END` markers of FILE (default :data:`DOCUMENT`, where the settings are documented);
tests/unit/shared/platform/settings/test_doc.py fails while the committed table differs from
:func:`markdown_table`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from shared.platform.settings.declare import Option
from shared.platform.settings.options import OPTIONS

COMMAND = "python -m shared.platform.settings.doc"
BEGIN = f"<!-- settings table: generated from the declarations by `{COMMAND}` -->"
END = "<!-- end of the generated settings table -->"
#: The file holding the table, relative to the repository root (the working directory).
DOCUMENT = "docs/operations.md"


def documented_default(opt: Option) -> str:
    """The default as the table shows it: ``—`` for none, ``10`` for ``10.0``."""
    value = opt.default
    if opt.shown:
        return opt.shown
    if value is None or value == ():
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def markdown_table() -> str:
    """One row per setting, in declaration order (ends with a newline)."""
    rows = ["| flag | variable | default | commands | meaning |", "|---|---|---|---|---|"]
    for opt in OPTIONS:
        cells = (
            f"`{opt.flag}`",
            f"`{opt.env}`",
            documented_default(opt),
            ", ".join(opt.commands),
            opt.meaning,
        )
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows) + "\n"


def committed_table(text: str) -> str:
    """The table between the markers of ``text`` (ValueError: no markers)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no settings table: the lines {BEGIN!r} and {END!r} are missing")
    return text[start + len(BEGIN) + 1 : end]


def with_table(text: str) -> str:
    """``text`` with the table between its markers replaced by the generated one."""
    old = committed_table(text)
    start = text.index(BEGIN) + len(BEGIN) + 1
    return text[:start] + markdown_table() + text[start + len(old) :]


def main(argv: Sequence[str]) -> int:
    path = Path(argv[0] if argv else DOCUMENT)
    text = path.read_text()
    new = with_table(text)
    if new != text:
        path.write_text(new)
    print(f"{path}: settings table {'rewritten' if new != text else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
