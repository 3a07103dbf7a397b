"""Each setting is declared once: the subcommands' flags and the documented settings table
(docs/operations.md) are derived from the declarations, and the committed table is the
generated one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.cli import build_parser
from shared.platform.settings import COMMANDS, OPTIONS
from shared.platform.settings.declare import option
from shared.platform.settings.doc import COMMAND, DOCUMENT, committed_table, markdown_table
from tests.support.paths import REPO
from tests.support.processes import clean_env

DOCS = REPO / DOCUMENT


def test_the_documented_settings_table_is_the_generated_one() -> None:
    committed = committed_table(DOCS.read_text())
    assert committed == markdown_table(), (
        f"{DOCUMENT}'s settings table differs from the declarations; regenerate it: {COMMAND}"
    )


def test_the_regenerating_command_rewrites_a_stale_table(tmp_path: Path) -> None:
    doc = tmp_path / DOCUMENT  # the command as printed, run from a checkout's root
    doc.parent.mkdir(parents=True)
    current = DOCS.read_text()
    doc.write_text(current.replace("| `--port` |", "| `--prot` |", 1))
    assert doc.read_text() != current
    done = subprocess.run(
        [sys.executable, *COMMAND.split()[1:]],
        env=clean_env(PYTHONPATH=str(REPO)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no warning from running a module of the package
    assert doc.read_text() == current


def test_a_document_without_the_markers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no settings table"):
        committed_table("# README\n\n| flag | variable |\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_subcommand_takes_exactly_the_settings_declared_for_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    flags = re.findall(r"^  (--[a-z-]+)", capsys.readouterr().out, re.MULTILINE)
    assert [f for f in flags if f in {o.flag for o in OPTIONS}] == [
        o.flag for o in OPTIONS if command in o.commands
    ]


def test_a_declaration_naming_no_known_subcommand_is_refused() -> None:
    with pytest.raises(ValueError, match="commands must be some of"):
        option(1, int, "a typo", ("serve", "gatway"))
    with pytest.raises(ValueError, match="commands must be some of"):
        option(1, int, "no command", ())
