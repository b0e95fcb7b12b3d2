"""``cs token`` and ``cs schema``, as a user runs them."""

from __future__ import annotations

import json

import pytest

import cs_server
from cs_core import Scope, Store, verify_token
from cs_core._cli import main


def run_cs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tokens_from_the_command_line(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    code, out, _ = run_cs(capsys, "--database-url", url, "token", "create", "--name", "ci",
                          "--scopes", "read,write", "--json")  # fmt: skip
    assert code == 0
    created = json.loads(out)
    with store.transaction() as session:
        found = verify_token(session, created["token"])
    assert found is not None
    assert found.scopes == (Scope.READ, Scope.WRITE)
    code, _, err = run_cs(capsys, "--database-url", url, "token", "create", "--name", "x",
                          "--scopes", "root")  # fmt: skip
    assert (code, err.strip()) == (1, "error: unknown scope 'root'; scopes: read, write, admin")
    assert run_cs(capsys, "--database-url", url, "token", "revoke", str(created["id"]))[0] == 0
    code, out, _ = run_cs(capsys, "--database-url", url, "token", "list")
    assert f"{created['id']:>4}  ci  [read, write]  revoked" in out
    with store.transaction() as session:
        assert verify_token(session, created["token"]) is None


def test_the_schema_command_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cs(capsys, "schema")
    assert code == 0
    assert out == cs_server.schema().as_str() + "\n"
