"""``cs token`` and ``cs schema``, as a user runs them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import cs_server
from cs_core import ConfigurationError, Scope, Store, create_token, plugin_manager, verify_token
from cs_core._cli import build_cli


def run_cs(*args: str) -> tuple[int, str, str]:
    """``cs ARGS`` with the installed plugins (cs-server's commands among them): the exit
    status, the output, and the error the command raised (``cs`` prints it as ``error: …``)."""
    result = CliRunner().invoke(build_cli(plugin_manager()), list(args))
    return (
        result.exit_code,
        result.stdout,
        "" if result.exception is None else str(result.exception),
    )


def test_tokens_from_the_command_line(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    code, out, _ = run_cs("--database-url", url, "token", "create", "--name", "ci",
                          "--scopes", "read,write", "--json")  # fmt: skip
    assert code == 0
    created = json.loads(out)
    with store.transaction() as session:
        found = verify_token(session, created["token"])
    assert found is not None
    assert found.scopes == (Scope.READ, Scope.WRITE)
    code, _, err = run_cs("--database-url", url, "token", "create", "--name", "x",
                          "--scopes", "root")  # fmt: skip
    assert (code, err) == (1, "unknown scope 'root'; scopes: read, write, admin")
    code, out, _ = run_cs("--database-url", url, "token", "revoke", str(created["id"]))
    assert (code, out.strip()) == (0, f"Token {created['id']} (ci) revoked: servers refuse it "
                                      "within 5 s (CS_SERVER_TOKEN_CACHE_SECONDS).")  # fmt: skip
    code, out, _ = run_cs("--database-url", url, "token", "list")
    assert f"{created['id']:>4}  ci  [read, write]  revoked" in out
    with store.transaction() as session:
        assert verify_token(session, created["token"]) is None


def test_the_schema_command_prints_the_sdl() -> None:
    code, out, _ = run_cs("schema")
    assert code == 0
    assert out == cs_server.schema().as_str() + "\n"


def test_wrong_server_settings_are_named_and_change_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    with store.transaction() as session:
        token, secret = create_token(session, "kept", [Scope.READ])
    monkeypatch.setenv("CS_SERVER_TOKEN_CACHE_SECONDS", "soon")
    wrong = ("the server's settings are wrong: token_cache_seconds "
             "(CS_SERVER_TOKEN_CACHE_SECONDS): Input should be a valid number, unable to parse "
             "string as a number")  # fmt: skip
    assert run_cs("--database-url", url, "token", "revoke", str(token.id)) == (1, "", wrong)
    with store.transaction() as session:
        assert verify_token(session, secret) is not None  # not revoked
    with pytest.raises(ConfigurationError) as raised:
        cs_server.create_app(store)
    assert str(raised.value) == wrong
    monkeypatch.delenv("CS_SERVER_TOKEN_CACHE_SECONDS")
    code, _, error = run_cs("--database-url", url, "serve", "--port", "70000")
    assert (code, error) == (1, "the server's settings are wrong: port (CS_SERVER_PORT): "
                                "Input should be less than or equal to 65535")  # fmt: skip
