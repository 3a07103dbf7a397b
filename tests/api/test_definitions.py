"""Queue definitions: defaults, every rejection with its reason, schema dialects, broken
handlers; a broken queue never stops the others; ``conveyor check`` as a real command."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from shared.queues import definitions
from shared.queues.definitions import MAX_DEFINITION_BYTES, DefinitionError, load_definition
from shared.queues.registry import load_registry
from tests.support.api_client import Api, StartConveyor
from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.processes import conveyor
from tests.support.queues import add_queue, copy_handler, write_json
from tests.support.responses import error_list

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def definition_file(directory: Path, document: Any, file_name: str | None = None) -> Path:
    name = document.get("name") if isinstance(document, dict) else None
    path = directory / (file_name or f"{name}.queue.json")
    return write_json(path, document)


def rejection(directory: Path, document: Any, file_name: str | None = None) -> str:
    path = definition_file(directory, document, file_name)
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    assert str(info.value).startswith(str(path)), "the error names the file"
    return info.value.reason


# --- what a valid definition means -------------------------------------------------------


def test_minimal_definition_defaults(tmp_path: Path) -> None:
    path = definition_file(tmp_path, {"name": "plain", "incoming": {"schema": {}}})
    definition = load_definition(path)
    assert definition.name == "plain"
    assert definition.roles.needs_role is True
    assert definition.roles.replace is False
    assert definition.roles.roles == ()
    assert definition.auth_enabled is True
    assert definition.client_id is None
    assert definition.description is None
    assert definition.handler_path == tmp_path / "plain.py"


def test_seed_definition_is_read_as_written() -> None:
    definition = load_definition(SEED_HANDLERS_DIR / "myQueue.queue.json")
    assert definition.client_id == "my-client"
    assert definition.roles.needs_role is True
    assert definition.roles.replace is True
    assert definition.roles.roles == ("one", "two")


@pytest.mark.parametrize(
    "security, enabled",
    [({"mechanism": "none"}, False), ({"mechanism": "default"}, True), ({}, True)],
)
def test_security_mechanism(tmp_path: Path, security: dict[str, str], enabled: bool) -> None:
    path = definition_file(
        tmp_path, {"name": "q", "security": security, "incoming": {"schema": {}}}
    )
    assert load_definition(path).auth_enabled is enabled


# --- rejections ----------------------------------------------------------------------------


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    reason = rejection(tmp_path, {"name": "q", "incoming": {"schema": {}}, "rolez": {}})
    assert "unknown key(s): rolez" in reason


@pytest.mark.parametrize(
    "name",
    ["", "bad name", "-leading-dash", "_leading_underscore", "dots.in.name", "x" * 65, "s/lash", 7],
)
def test_bad_name_is_rejected(tmp_path: Path, name: Any) -> None:
    reason = rejection(tmp_path, {"name": name, "incoming": {"schema": {}}}, "whatever.queue.json")
    assert "must match" in reason


@pytest.mark.parametrize("name", sorted(definitions.RESERVED_NAMES))
def test_reserved_name_is_rejected_naming_the_route(tmp_path: Path, name: str) -> None:
    reason = rejection(tmp_path, {"name": name, "incoming": {"schema": {}}})
    assert reason == f"name {name!r} is reserved for the gateway's own GET /{name}"


def test_name_must_match_the_file_name(tmp_path: Path) -> None:
    reason = rejection(tmp_path, {"name": "alpha", "incoming": {"schema": {}}}, "beta.queue.json")
    assert "does not match the file name beta.queue.json" in reason


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"roles": {"needsRole": "yes"}}, "roles.needsRole must be true or false"),
        ({"roles": {"replace": 1}}, "roles.replace must be true or false"),
        ({"roles": {"roles": "one"}}, "roles.roles must be a list"),
        ({"roles": {"roles": ["ok", ""]}}, "roles.roles must be a list"),
        ({"roles": {"needsrole": True}}, "unknown key(s) in roles: needsrole"),
        ({"roles": ["one"]}, "roles must be an object"),
        ({"security": {"mechanism": "oauth"}}, "security.mechanism must be none or default"),
        ({"security": {"mechanism": "none", "x": 1}}, "security must be"),
        ({"client_id": ""}, "client_id must be a non-empty string"),
        ({"client_id": 5}, "client_id must be a non-empty string"),
        ({"description": ["x"]}, "description must be a string"),
        ({"incoming": {}}, "incoming must be"),
        ({"incoming": {"schema": {}, "extra": 1}}, "incoming must be"),
        ({"incoming": "schema"}, "incoming must be"),
        ({"incoming": {"schema": "string"}}, "incoming.schema must be a JSON Schema object"),
    ],
)
def test_malformed_blocks_are_rejected(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    document = {"name": "q", "incoming": {"schema": {}}, **changes}
    assert expected in rejection(tmp_path, document)


def test_file_that_is_not_a_json_object_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "broken.queue.json").write_text('{"name": "broken",')
    with pytest.raises(DefinitionError, match="cannot read JSON"):
        load_definition(tmp_path / "broken.queue.json")
    assert "must be a JSON object" in rejection(tmp_path, ["name"], "list.queue.json")


def nested_schema(depth: int) -> dict[str, Any]:
    """A definition whose arrays and objects nest exactly ``depth`` levels deep."""
    schema: dict[str, Any] = {}
    for _ in range(depth - 3):  # the document, ``incoming`` and the schema itself: 3 levels
        schema = {"items": schema}
    return {"name": "deep", "incoming": {"schema": schema}}


def test_a_definition_nested_more_than_64_levels_is_refused_before_parsing(
    tmp_path: Path,
) -> None:
    assert load_definition(definition_file(tmp_path, nested_schema(64))).name == "deep"
    reason = rejection(tmp_path, nested_schema(65))
    assert reason == "nests arrays/objects more than 64 levels deep"
    (tmp_path / "deep.queue.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DefinitionError, match="more than 64 levels deep"):
        load_definition(tmp_path / "deep.queue.json")
    # Brackets inside strings are text, not nesting.
    brackets = {"name": "text", "incoming": {"schema": {}}, "description": '[{"\\' * 1000}
    assert load_definition(definition_file(tmp_path, brackets)).description == '[{"\\' * 1000


def test_a_definition_over_1_mib_is_refused(tmp_path: Path) -> None:
    document: dict[str, Any] = {"name": "big", "incoming": {"schema": {}}, "description": ""}
    fits = len(json.dumps(document).encode())
    document["description"] = "x" * (MAX_DEFINITION_BYTES - fits)
    assert len(load_definition(definition_file(tmp_path, document)).description or "") > 0
    document["description"] += "x"
    assert rejection(tmp_path, document).startswith("is over 1 MiB")


def test_a_definition_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "pipe.queue.json")  # opening it to read would wait for a writer
    with pytest.raises(DefinitionError, match="is not a regular file"):
        load_definition(tmp_path / "pipe.queue.json")


def test_any_failure_while_loading_a_definition_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def overflowing(path: Path, data: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(definitions, "parse_definition", overflowing)
    reason = rejection(tmp_path, {"name": "q", "incoming": {"schema": {}}})
    assert reason == "does not load: RecursionError: maximum recursion depth exceeded"


@pytest.mark.parametrize(
    "schema, where",
    [
        ({"type": "objekt"}, "type"),
        ({"type": "object", "properties": {"a": {"minLength": -1}}}, "properties/a/minLength"),
        ({"required": "hello"}, "required"),
        ({"items": [{"type": "string"}]}, "items"),
        ({"$schema": DRAFT_07, "type": "string", "maxLength": "ten"}, "maxLength"),
    ],
    ids=["bad-type", "negative-minLength", "required-not-list", "tuple-items-2020", "draft7"],
)
def test_invalid_json_schema_is_rejected_by_its_metaschema(
    tmp_path: Path, schema: dict[str, Any], where: str
) -> None:
    reason = rejection(tmp_path, {"name": "q", "incoming": {"schema": schema}})
    assert "not a valid JSON Schema" in reason
    assert where in reason


def test_schema_dialect_follows_dollar_schema(tmp_path: Path) -> None:
    """Array-form ``items`` is draft-07 tuple validation, invalid in the 2020-12 default."""
    tuple_schema = {"$schema": DRAFT_07, "type": "array", "items": [{"type": "string"}]}
    definition = load_definition(
        definition_file(tmp_path, {"name": "q", "incoming": {"schema": tuple_schema}})
    )
    assert definition.validator.is_valid(["a", 1])
    assert not definition.validator.is_valid([1])


# --- broken handlers and the registry -------------------------------------------------------

BROKEN_HANDLERS = {
    "raises-at-import": ('raise RuntimeError("no database at import")\n', "RuntimeError"),
    "syntax-error": ("def handle(message, ctx)\n    return 1\n", "SyntaxError"),
    "import-error": ("import module_that_does_not_exist\n", "ModuleNotFoundError"),
    "no-handle": ("def process(message, ctx):\n    return 1\n", "no callable `handle"),
    "handle-not-callable": ("handle = 42\n", "no callable `handle"),
    "handle-takes-nothing": ("def handle():\n    return 1\n", "must accept (message, ctx)"),
    "sys-exit": ("import sys\n\nsys.exit(3)\n", "handler does not import: SystemExit: 3"),
    "bare-system-exit": ("raise SystemExit\n", "handler does not import: SystemExit"),
    "generator-exit": ("raise GeneratorExit\n", "handler does not import: GeneratorExit"),
    "exit-from-module-getattr": (
        "import sys\n\n\ndef __getattr__(name):\n    sys.exit(4)\n",
        "SystemExit: 4",
    ),
}


@pytest.mark.parametrize("source, expected", BROKEN_HANDLERS.values(), ids=BROKEN_HANDLERS.keys())
def test_broken_handler_is_reported_and_others_load(
    queues_dir: Path, source: str, expected: str
) -> None:
    definition_file(queues_dir, {"name": "broken", "incoming": {"schema": {}}})
    (queues_dir / "broken.py").write_text(source)
    registry = load_registry(queues_dir, with_handlers=True)
    assert "broken" not in registry.names
    assert {"echo", "fail", "open", "slow", "syncwork", "nonjson"} <= set(registry.names)
    assert len(registry.errors) == 1
    assert "broken.py" in registry.errors[0]
    assert expected in registry.errors[0]


def test_keyboard_interrupt_at_import_is_a_load_error_only_on_hot_reload(queues_dir: Path) -> None:
    """At start a KeyboardInterrupt may be the operator's Ctrl-C: it stops the load. On hot
    reload SIGINT is the event loop's, so it can only be the handler's own: a load error."""
    definition_file(queues_dir, {"name": "broken", "incoming": {"schema": {}}})
    (queues_dir / "broken.py").write_text("raise KeyboardInterrupt('at import')\n")
    with pytest.raises(KeyboardInterrupt):
        load_registry(queues_dir, with_handlers=True)
    registry = load_registry(queues_dir, with_handlers=True, interrupts=True)
    assert "broken" not in registry.names and "echo" in registry.names
    assert registry.errors == [
        f"{queues_dir / 'broken.py'}: handler does not import: KeyboardInterrupt: at import"
    ]


def test_missing_handler_file_is_reported(queues_dir: Path) -> None:
    definition_file(queues_dir, {"name": "lonely", "incoming": {"schema": {}}})
    registry = load_registry(queues_dir, with_handlers=True)
    assert "lonely" not in registry.names
    assert any("handler file lonely.py is missing" in e for e in registry.errors)


def test_queue_names_differing_only_in_case_clash(queues_dir: Path) -> None:
    add_queue(queues_dir, "Echo")
    registry = load_registry(queues_dir, with_handlers=True)
    assert len({"echo", "Echo"} & set(registry.names)) == 1, registry.names
    assert any("clashes" in e for e in registry.errors)


def write_broken_queues(queues_dir: Path) -> None:
    """One good extra queue and one broken queue of each kind."""
    add_queue(queues_dir, "draft7", schema={"$schema": DRAFT_07, "items": [{"type": "string"}]})
    add_queue(queues_dir, "badschema", schema={"type": "objekt"})
    add_queue(queues_dir, "badkey", description="x", colour="blue")
    add_queue(queues_dir, "mismatch")
    (queues_dir / "mismatch.queue.json").write_text(
        json.dumps({"name": "other", "incoming": {"schema": {}}})
    )
    add_queue(queues_dir, "importfails")
    (queues_dir / "importfails.py").write_text('raise ImportError("nope")\n')
    add_queue(queues_dir, "nohandle")
    (queues_dir / "nohandle.py").write_text("x = 1\n")
    (queues_dir / "notjson.queue.json").write_text("{")
    copy_handler("echo", queues_dir / "notjson.py")


BROKEN = ("badschema", "badkey", "mismatch", "other", "importfails", "nohandle", "notjson")


async def test_broken_definitions_do_not_stop_the_others_serving(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    write_broken_queues(queues_dir)
    served = await start_conveyor()
    api = api_for(served)
    admin = api.keys.token(["system_admin"])

    ready = await (await api.get("/readyz", admin)).json()
    assert not set(BROKEN) & set(ready["queues"])
    assert {"echo", "draft7"} <= set(ready["queues"])
    for name in BROKEN:
        await error_list(await api.post(name, {}, admin), 404)

    message_id = await api.push("echo", {"still": "works"}, admin)
    assert (await api.wait_final("echo", message_id, admin))["status"] == "COMPLETE"

    # draft-07 tuple validation is what the draft7 queue enforces
    assert (await api.post("draft7", ["a", 1], admin)).status == 201
    errors = await error_list(await api.post("draft7", [1], admin), 422)
    assert errors == [{"path": "$[0]", "message": "1 is not of type 'string'"}]


# --- conveyor check -------------------------------------------------------------------------


def test_check_prints_a_table_and_exits_0_when_everything_loads(queues_dir: Path) -> None:
    done = conveyor("check", "--handlers", str(queues_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["queue", "roles", "allowed", "schema", "handler"]
    rows = {line.split()[0]: line for line in lines[1:] if line.strip()}
    assert {"echo", "fail", "nonjson", "open", "slow", "syncwork"} <= set(rows)
    assert "anyone (auth off)" in rows["open"]
    assert "queue_writer" in rows["echo"] and "tester" in rows["echo"]
    assert "echo_writer" in rows["echo"] and "system_admin" in rows["echo"]
    for line in rows.values():
        assert line.split()[-2:] == ["ok", "ok"], line


def test_check_shows_replace_and_needs_role_rules(tmp_path: Path) -> None:
    add_queue(tmp_path, "replaced", roles={"replace": True, "roles": ["one"]})
    add_queue(tmp_path, "anytoken", roles={"needsRole": False})
    done = conveyor("check", "--handlers", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    assert "one, system_admin" in rows["replaced"]
    assert "queue_writer" not in rows["replaced"]
    assert "any valid token" in rows["anytoken"]


def test_check_exits_1_and_names_every_problem(queues_dir: Path) -> None:
    write_broken_queues(queues_dir)
    done = conveyor("check", "--handlers", str(queues_dir))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    table, _, problems = out.partition("\n\n")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    for name in ("badschema", "badkey", "mismatch", "notjson"):
        assert rows[name][-2:] == ["FAIL", "-"], rows[name]
    for name in ("importfails", "nohandle"):
        assert rows[name][-2:] == ["ok", "FAIL"], rows[name]
    assert rows["echo"][-2:] == ["ok", "ok"]
    assert rows["draft7"][-2:] == ["ok", "ok"]
    assert "badschema.queue.json" in problems and "not a valid JSON Schema" in problems
    assert "unknown key(s): colour" in problems
    assert "does not match the file name mismatch.queue.json" in problems
    assert "importfails.py" in problems and "ImportError: nope" in problems
    assert "nohandle.py" in problems and "handle" in problems
    assert "notjson.queue.json" in problems and "cannot read JSON" in problems


def test_check_exits_1_for_missing_or_empty_directory(tmp_path: Path) -> None:
    missing = conveyor("check", "--handlers", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert "no such directory" in missing.stdout
    empty = conveyor("check", "--handlers", str(tmp_path))
    assert empty.returncode == 1
    assert "no *.queue.json definitions" in empty.stdout
