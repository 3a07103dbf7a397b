"""Settings and the command line: bad values fail at start (exit 2, one line naming the
setting), ``--help``, ``conveyor token``, and ``conveyor gateway`` refusing to run keyless."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from shared.platform.settings import Settings, SettingsError, client_secret_env, parse_settings
from tests.support.paths import QUEUES_DIR
from tests.support.processes import clean_env, conveyor

# --- bad values, as real processes --------------------------------------------------------

#: A broker URL nothing listens on: these tests fail before any connection is tried.
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1/"


def assert_refused(done: Any, *names: str, after_logs: bool = False) -> str:
    """Exit 2 with a one-line ``conveyor: ...`` reason naming ``names``.

    A setting checked before anything runs leaves that line alone on stderr; one checked
    while starting (a key file's content, a missing key) comes after the start-up log.
    """
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert lines, "no reason given"
    if not after_logs:
        assert len(lines) == 1, done.stderr
    reason = lines[-1]
    assert reason.startswith("conveyor: "), done.stderr
    for name in names:
        assert name in reason, reason
    return str(reason)


@pytest.mark.parametrize(
    "args, env, names",
    [
        (["--port", "abc"], {}, ["--port", "abc"]),
        (["--port", "70000"], {}, ["--port"]),
        ([], {"CONVEYOR_CONCURRENCY": "0"}, ["CONVEYOR_CONCURRENCY", "positive"]),
        ([], {"CONVEYOR_FOO": "1"}, ["CONVEYOR_FOO", "unknown setting"]),
        (["--store", "postgres://db/x"], {}, ["--store"]),
        (["--broker", "http://rabbit"], {}, ["--broker"]),
        (["--rabbitmq-management-url", "amqp://mq"], {}, ["--rabbitmq-management-url"]),
        (["--log-level", "loud"], {}, ["--log-level"]),
        (["--max-body-bytes", "-1"], {}, ["--max-body-bytes"]),
        (["--max-json-depth", "1000"], {}, ["--max-json-depth", "from 1 to 256"]),
        (["--grace-seconds", "0"], {}, ["--grace-seconds"]),
        (["--lease-seconds", "inf"], {}, ["--lease-seconds"]),
        ([], {"CONVEYOR_GRACE_SECONDS": "nan"}, ["CONVEYOR_GRACE_SECONDS"]),
        ([], {"CONVEYOR_JWT_LEEWAY_SECONDS": "nan"}, ["CONVEYOR_JWT_LEEWAY_SECONDS"]),
        (["--jwt-leeway-seconds", "inf"], {}, ["--jwt-leeway-seconds"]),
        (["--jwt-leeway-seconds", "-5"], {}, ["--jwt-leeway-seconds"]),
        (["--jwt-public-key", "/no/such/key.pem"], {}, ["--jwt-public-key", "no such file"]),
    ],
)
def test_serve_refuses_a_bad_setting_at_start(
    tmp_path: Path, args: list[str], env: dict[str, str], names: list[str]
) -> None:
    base = [
        "--port",
        "0",
        "--store",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--handlers",
        str(QUEUES_DIR),
    ]
    done = conveyor("serve", *base, *args, env=clean_env(**env), cwd=tmp_path, timeout=30)
    assert_refused(done, *names)
    assert not (tmp_path / "c.db").exists(), "nothing is opened before settings are valid"


def test_unknown_flag_is_a_usage_error(tmp_path: Path) -> None:
    done = conveyor("serve", "--prot", "8080", cwd=tmp_path)
    assert done.returncode == 2
    assert "--prot" in done.stderr


def test_public_key_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    done = conveyor(
        "gateway",
        "--port",
        "0",
        "--store",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--broker",
        CLOSED_BROKER,
        "--handlers",
        str(QUEUES_DIR),
        "--jwt-public-key",
        str(garbage),
        cwd=tmp_path,
        timeout=30,
    )
    assert_refused(done, "--jwt-public-key", str(garbage), after_logs=True)
    assert not (tmp_path / "c.db").exists(), "keys are checked before the store is opened"


def test_gateway_without_any_key_refuses_to_start(tmp_path: Path) -> None:
    done = conveyor(
        "gateway",
        "--port",
        "0",
        "--store",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--broker",
        CLOSED_BROKER,
        "--handlers",
        str(QUEUES_DIR),
        cwd=tmp_path,
        timeout=30,
    )
    err = assert_refused(done, "--jwks-url", "--jwt-public-key", "--jwt-secret", after_logs=True)
    assert "echo" in err, "it names the queues that need auth"
    assert not (tmp_path / "conveyor.secret").exists(), "the gateway never generates a key"
    assert not (tmp_path / "c.db").exists(), "keys are checked before the store is opened"


# --- --help -------------------------------------------------------------------------------

SERVE_FLAGS = [
    "--host",
    "--port",
    "--store",
    "--broker",
    "--handlers",
    "--queues",
    "--concurrency",
    "--grace-seconds",
    "--lease-seconds",
    "--max-body-bytes",
    "--jwt-secret",
    "--jwt-public-key",
    "--jwks-url",
    "--jwt-issuer",
    "--jwt-audience",
    "--roles-claim",
    "--jwt-leeway-seconds",
    "--token-url",
    "--log-level",
    "--public-openapi",
]


def test_serve_help_lists_every_flag_with_its_variable() -> None:
    done = conveyor("serve", "--help")
    assert done.returncode == 0, done.stderr
    for flag in SERVE_FLAGS:
        assert flag in done.stdout, flag
        variable = "CONVEYOR_" + flag[2:].replace("-", "_").upper()
        assert variable in done.stdout, variable


def test_help_of_each_command() -> None:
    top = conveyor("--help")
    assert top.returncode == 0
    for command in ("serve", "gateway", "consumer", "token", "check"):
        assert command in top.stdout
    gateway = conveyor("gateway", "--help").stdout
    assert "--jwks-url" in gateway and "--concurrency" not in gateway
    consumer = conveyor("consumer", "--help").stdout
    assert "--concurrency" in consumer and "--jwt-secret" not in consumer
    token = conveyor("token", "--help").stdout
    for flag in ("--roles", "--sub", "--ttl", "--store", "--jwt-secret"):
        assert flag in token


# --- conveyor token -----------------------------------------------------------------------


def test_token_uses_the_secret_generated_beside_the_database(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'data' / 'conveyor.db'}"
    (tmp_path / "data").mkdir()
    done = conveyor("token", "--roles", "a,b", "--store", store, "--create-secret", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    secret_file = tmp_path / "data" / "conveyor.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret.encode()) >= 32

    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["roles"] == ["a", "b"]
    assert claims["sub"] == "conveyor-user"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] <= time.time() + 5

    again = conveyor("token", "--roles", "c", "--store", store, cwd=tmp_path)
    assert jwt.decode(again.stdout.strip(), secret, algorithms=["HS256"])["roles"] == ["c"]


def test_token_does_not_create_a_secret_unless_asked(tmp_path: Path) -> None:
    """Run elsewhere than serve (another directory, another --store), ``conveyor token`` used
    to create a second secret that serve would never accept: it names where serve's is."""
    (tmp_path / "data").mkdir()
    for store, where in (
        ([], "conveyor.secret"),
        (["--store", f"sqlite:///{tmp_path / 'data' / 'x.db'}"], str(tmp_path / "data")),
    ):
        done = conveyor("token", "--roles", "a", *store, cwd=tmp_path)
        assert done.returncode == 2 and not done.stdout, (done.stdout, done.stderr)
        [line] = done.stderr.splitlines()
        assert "no token signing secret at" in line and where in line, line
        assert "--create-secret" in line and "conveyor serve" in line, line
    assert not (tmp_path / "conveyor.secret").exists()
    assert not (tmp_path / "data" / "conveyor.secret").exists()


def test_token_with_explicit_secret_issuer_and_audience(tmp_path: Path) -> None:
    secret = "explicit-secret-" + "z" * 40
    done = conveyor(
        "token",
        "--sub",
        "alice",
        "--roles",
        " one , two ,",
        "--ttl",
        "60",
        "--jwt-issuer",
        "https://iss.test",
        "--jwt-audience",
        "aud",
        env=clean_env(CONVEYOR_JWT_SECRET=secret),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(
        done.stdout.strip(),
        secret,
        algorithms=["HS256"],
        issuer="https://iss.test",
        audience="aud",
    )
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["one", "two"]
    assert claims["exp"] - claims["iat"] == 60
    assert not (tmp_path / "conveyor.secret").exists()


# --- parse_settings -----------------------------------------------------------------------


def test_defaults() -> None:
    settings = parse_settings({}, {})
    assert settings == Settings()
    assert settings.port == 8080
    assert settings.store == "sqlite:///./conveyor.db"
    assert settings.broker is None
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.max_json_depth == 64
    assert settings.jwt_leeway_seconds == 30.0
    assert not settings.has_keys


def test_flag_wins_over_variable_and_empty_variables_are_unset() -> None:
    env = {"CONVEYOR_PORT": "9001", "CONVEYOR_CONCURRENCY": "4", "CONVEYOR_JWKS_URL": ""}
    settings = parse_settings({"port": "9002"}, env)
    assert settings.port == 9002
    assert settings.concurrency == 4
    assert settings.jwks_url is None


def test_repeatable_public_keys_from_variable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_text("x")
    b.write_text("y")
    settings = parse_settings({}, {"CONVEYOR_JWT_PUBLIC_KEY": f"{a}{os.pathsep}{b}"})
    assert settings.jwt_public_key == (a, b)
    assert parse_settings({"jwt_public_key": [str(b)]}, {}).jwt_public_key == (b,)


def test_client_secrets_come_from_their_own_variables() -> None:
    env = {
        "CONVEYOR_CLIENT_SECRET_MY_APP": "s1",
        "CONVEYOR_CLIENT_SECRET_OTHER": "s2",
    }
    settings = parse_settings({}, env)
    assert settings.client_secret("my-app") == "s1"
    assert settings.client_secret("my.app") == "s1"
    assert settings.client_secret("other") == "s2"
    assert settings.client_secret("unknown") is None
    assert client_secret_env("svc-client.v2") == "CONVEYOR_CLIENT_SECRET_SVC_CLIENT_V2"


def test_secrets_never_appear_in_repr_or_description() -> None:
    settings = parse_settings(
        {"jwt_secret": "top-secret-value", "store": "mongodb://user:hunter2@db:27017/x"},
        {"CONVEYOR_CLIENT_SECRET_APP": "client-secret-value"},
    )
    for secret in ("top-secret-value", "client-secret-value"):
        assert secret not in repr(settings)
    for secret in ("top-secret-value", "hunter2", "client-secret-value"):
        assert secret not in settings.describe()
    assert "mongodb://user:***@db:27017/x" in settings.describe()


@pytest.mark.parametrize(
    "args, env",
    [
        ({"concurrency": "1.5"}, {}),
        ({"concurrency": "-3"}, {}),
        ({}, {"CONVEYOR_MAX_BODY_BYTES": "0"}),
        ({"max_json_depth": "0"}, {}),
        ({}, {"CONVEYOR_MAX_JSON_DEPTH": "257"}),
        ({}, {"CONVEYOR_SWEEP_INTERVAL_SECONDS": "-1"}),
        ({}, {"CONVEYOR_REPUBLISH_AFTER_SECONDS": "inf"}),
        ({}, {"CONVEYOR_LEASE_SECONDS": "nan"}),
        ({"jwt_leeway_seconds": "nan"}, {}),
        ({"jwt_leeway_seconds": "-inf"}, {}),
        ({"store": "sqlite://relative.db"}, {}),
        ({}, {"CONVEYOR_QUEUE": "echo"}),
        ({}, {"CONVEYOR_PUBLIC_OPENAPI": "maybe"}),
    ],
)
def test_bad_values_raise_a_one_line_settings_error(
    args: dict[str, str], env: dict[str, str]
) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(args, env)
    message = str(info.value)
    assert "\n" not in message
    names = [f"--{k.replace('_', '-')}" for k in args] + list(env)
    assert any(name in message for name in names), message


@pytest.mark.parametrize(
    "env, expected",
    [("", False), ("true", True), ("1", True), ("Yes", True), ("false", False), ("off", False)],
)
def test_public_openapi_from_its_variable(env: str, expected: bool) -> None:
    assert parse_settings({}, {"CONVEYOR_PUBLIC_OPENAPI": env}).public_openapi is expected


def test_public_openapi_flag_takes_no_value_and_wins_over_its_variable() -> None:
    from conveyor.cli import build_parser

    off = {"CONVEYOR_PUBLIC_OPENAPI": "false"}
    for command in ("serve", "gateway"):
        args = vars(build_parser().parse_args([command, "--public-openapi"]))
        assert parse_settings(args, off).public_openapi is True
        plain = vars(build_parser().parse_args([command]))
        assert parse_settings(plain, {}).public_openapi is False


@pytest.mark.parametrize("value, expected", [("0", 0.0), ("12.5", 12.5)])
def test_zero_and_fractional_leeway_are_fine(value: str, expected: float) -> None:
    assert parse_settings({"jwt_leeway_seconds": value}, {}).jwt_leeway_seconds == expected


def test_settings_repr_hides_secrets_and_url_passwords() -> None:
    from shared.platform.settings import Settings

    text = repr(
        Settings(
            store="mongodb://app:hunter2@db:27017/x",
            broker="amqp://app:hunter3@mq:5672/",
            rabbitmq_management_url="http://mon:hunter4@mq:15672",
            jwt_secret="s3cret-value",
            client_secrets={"CONVEYOR_CLIENT_SECRET_A": "client-pw"},
        )
    )
    for secret in ("hunter2", "hunter3", "hunter4", "s3cret-value", "client-pw"):
        assert secret not in text
    assert "mongodb://app:***@db:27017/x" in text
