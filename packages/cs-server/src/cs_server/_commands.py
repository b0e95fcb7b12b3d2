"""``cs serve``, ``cs schema`` and ``cs token``: added to ``cs`` through the plugin hook."""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

import click
import structlog
import uvicorn
from starlette.applications import Starlette

from cs_core import (
    CLIContext,
    RegisterCommand,
    Scope,
    create_token,
    emit_json,
    hookimpl,
    json_option,
    list_tokens,
    pass_cli,
    revoke_token,
)
from cs_server._app import create_app, schema
from cs_server._settings import ServerSettings

__all__ = ["cs_register_commands"]


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON object per line on stderr: what log collectors read without parsing rules."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


@click.command()
@click.option("--host", default=None, help="Address to listen on  [default: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on  [default: 8000]")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes  [default: 1]")  # fmt: skip
@pass_cli
def serve(cli: CLIContext, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql) over the store."""
    given: dict[str, Any] = {"host": host, "port": port, "workers": workers}
    # What the command line gives wins over CS_SERVER_* variables.
    settings = ServerSettings.from_environment(**{k: v for k, v in given.items() if v is not None})
    with cli.store() as store:
        store.check_ready()
    if cli.database_url:
        # Workers build their own application: they find the store where the parent did.
        os.environ["CS_DATABASE_URL"] = cli.database_url
    click.echo(f"GraphiQL at http://{settings.host}:{settings.port}/graphql", err=True)
    # Messages are small: compressing them costs ~40 KiB of state per websocket for nothing.
    uvicorn.run("cs_server._commands:logged_app", factory=True, host=settings.host,
                port=settings.port, workers=settings.workers, log_level="warning",
                ws_per_message_deflate=False)  # fmt: skip


def logged_app() -> Starlette:
    """The application as each server process builds it: logging JSON lines, over the store
    of ``CS_DATABASE_URL``."""
    configure_logging()
    app = create_app()
    # The objects imported so far live as long as the process: leave them out of full
    # collections, which otherwise cost 170-245 ms each (measured by bench/server.py).
    gc.freeze()
    return app


@click.command("schema")
def schema_command() -> None:
    """Print the GraphQL schema (SDL), for clients' code generators."""
    click.echo(schema().as_str())


@click.group()
def token() -> None:
    """API tokens: create (the secret is shown once), list, revoke."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses it.")
@click.option("--scopes", default="read", show_default=True,
              help="Comma-separated: read, write, admin.")  # fmt: skip
@json_option
@pass_cli
def create(cli: CLIContext, name: str, scopes: str, as_json: bool) -> None:
    """Create a token and print its secret (it cannot be shown again)."""
    chosen = Scope.parse(scopes.split(","))
    with cli.store() as store:
        store.check_ready()
        with store.transaction() as session:
            info, secret = create_token(session, name, chosen)
    if as_json:
        emit_json({"id": info.id, "name": info.name,
                   "scopes": [s.value for s in info.scopes], "token": secret})  # fmt: skip
        return
    click.echo(f"Token {info.id} ({info.name}; {', '.join(s.value for s in info.scopes)}):")
    click.echo(secret)
    click.echo("Keep it now: only its digest is stored.", err=True)


@token.command("list")
@json_option
@pass_cli
def list_command(cli: CLIContext, as_json: bool) -> None:
    """The tokens, revoked ones included (never their secrets)."""
    with cli.store() as store:
        store.check_ready()
        with store.transaction(read_only=True) as session:
            tokens = list_tokens(session)
    if as_json:
        emit_json([{"id": t.id, "name": t.name, "scopes": [s.value for s in t.scopes],
                    "created_at": t.created_at, "last_used_at": t.last_used_at,
                    "revoked_at": t.revoked_at} for t in tokens])  # fmt: skip
        return
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "live"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        click.echo(f"{t.id:>4}  {t.name}  [{', '.join(s.value for s in t.scopes)}]  {state}, "
                   f"{used}")  # fmt: skip


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_cli
def revoke(cli: CLIContext, token_id: int) -> None:
    """Revoke a token for good."""
    remembered = ServerSettings.from_environment().token_cache_seconds  # before changing anything
    with cli.store() as store:
        store.check_ready()
        with store.transaction() as session:
            info = revoke_token(session, token_id)
    click.echo(f"Token {info.id} ({info.name}) revoked: servers refuse it within {remembered:g} s "
               "(CS_SERVER_TOKEN_CACHE_SECONDS).")  # fmt: skip


@hookimpl
def cs_register_commands(register: RegisterCommand) -> None:
    """Add ``cs serve``, ``cs schema`` and ``cs token``."""
    register(serve)
    register(schema_command)
    register(token)
