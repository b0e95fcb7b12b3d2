"""cs-core's own commands, registered through the same hook as any plugin's."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from importlib.metadata import entry_points, version
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from cs_core._cli_context import CLIContext, emit_json, json_option, pass_cli
from cs_core._commands_backtest import backtest_command, churn_model
from cs_core._commands_lifecycle import lifecycle, lifecycle_json, print_lifecycle
from cs_core._commands_overrides import override
from cs_core._commands_playbooks import playbooks, print_playbook_run, run_report_json, tasks
from cs_core._commands_reports import kpis, portfolio_command, renewals
from cs_core._commands_scoring import explain, print_run, run_json, score
from cs_core._commands_support import sla
from cs_core._commands_sync import connectors, sync_command
from cs_core._demo import DemoOptions
from cs_core._demo_load import DemoSummary, load_demo
from cs_core._lifecycle import LifecycleReport, update_lifecycle
from cs_core._markers import ENTRY_POINT_GROUP, RegisterCommand, hookimpl
from cs_core._playbook_engine import PlaybookRunReport, run_playbooks
from cs_core._scoring_run import RunSummary, score_all
from cs_core._store import Store
from cs_core._tokens import Scope, create_token
from cs_core._types import utc_midnight

__all__ = ["cs_register_commands"]


@hookimpl
def cs_register_commands(register: RegisterCommand) -> None:
    """Register cs-core's commands: db, demo, plugins, score, explain, override, backtest…"""
    register(db)
    register(demo)
    register(plugins)
    register(score)
    register(explain)
    register(override)
    register(backtest_command)
    register(churn_model)
    register(sla)
    register(lifecycle)
    register(kpis)
    register(portfolio_command)
    register(renewals)
    register(playbooks)
    register(tasks)
    register(sync_command)
    register(connectors)


@click.group()
def db() -> None:
    """Create and migrate the store's schema."""


@db.command()
@click.argument("revision", default="head")
@json_option
@pass_cli
def upgrade(cli: CLIContext, revision: str, as_json: bool) -> None:
    """Migrate the store up to REVISION (default: head, the newest)."""
    store = cli.store()
    store.upgrade(revision)
    _report_revision(cli, as_json, f"upgraded to {store.current_revision()}")


@db.command()
@click.argument("revision")
@json_option
@pass_cli
def downgrade(cli: CLIContext, revision: str, as_json: bool) -> None:
    """Migrate the store down to REVISION ('base' empties it: its data is lost)."""
    store = cli.store()
    store.downgrade(revision)
    _report_revision(cli, as_json, f"downgraded to {store.current_revision() or 'base'}")


@db.command()
@json_option
@pass_cli
def current(cli: CLIContext, as_json: bool) -> None:
    """Show the store's schema revision and whether it is the newest."""
    _report_revision(cli, as_json, None)


def _report_revision(cli: CLIContext, as_json: bool, action: str | None) -> None:
    store = cli.store()
    current_revision, head = store.current_revision(), store.head_revision()
    database = store.url.render_as_string(hide_password=True)
    if as_json:
        emit_json(
            {
                "database": database,
                "current": current_revision,
                "head": head,
                "up_to_date": current_revision == head,
            }
        )
        return
    state = "up to date" if current_revision == head else f"head is {head}: run `cs db upgrade`"
    prefix = f"{action}; " if action else ""
    click.echo(f"{database}: {prefix}revision {current_revision or 'none (empty)'}, {state}")


@click.command()
@click.option("--accounts", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the data ends on, YYYY-MM-DD  [default: today, UTC]",
)
@click.option("--history-days", type=click.IntRange(min=90), default=120, show_default=True)
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Then serve the GraphQL API over it (cs-server's `cs serve`).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Where to serve it.")  # fmt: skip
@json_option
@pass_cli
@click.pass_context
def demo(
    context: click.Context,
    cli: CLIContext,
    accounts: int,
    seed: int,
    as_of: datetime | None,
    history_days: int,
    serve: bool,
    port: int,
    as_json: bool,
) -> None:
    """Create the store if needed, fill it with a realistic demo customer base (the demo
    connector, through the sync engine), score it, evaluate its lifecycle, run the playbooks,
    and serve the GraphQL API over it."""
    _fill_demo(cli, accounts, seed, as_of, history_days, as_json)
    if serve:
        _serve_demo(context, cli, port)


def _serve_demo(context: click.Context, cli: CLIContext, port: int) -> None:
    """Hand over to ``cs serve`` (a plugin's command, cs-server's) with a read token to try."""
    group = context.parent.command if context.parent else None
    serve = group.get_command(context, "serve") if isinstance(group, click.Group) else None
    if serve is None:
        click.echo("The store is ready. Install cs-server to serve it over GraphQL "
                   "(`cs serve`).", err=True)  # fmt: skip
        return
    store = cli.store()
    with store.transaction() as session:
        _, secret = create_token(session, "cs demo", [Scope.READ])
    click.echo(f"A read token for GraphiQL's headers: {{\"Authorization\": \"Bearer {secret}\"}}",
               err=True)  # fmt: skip
    context.invoke(serve, host=None, port=port, workers=None)


def _fill_demo(
    cli: CLIContext,
    accounts: int,
    seed: int,
    as_of: datetime | None,
    history_days: int,
    as_json: bool,
) -> None:
    """Load, score, evaluate and act on the demo base, reporting each step."""
    options = DemoOptions(accounts=accounts, seed=seed, history_days=history_days)
    if as_of is not None:
        options = replace(options, as_of=as_of.date())
    store = cli.store()
    store.upgrade()
    if as_json:
        loaded = load_demo(store, options)
        scored, evaluated, rescored = _score_demo(store, options)
        acted = _act_on_demo(store, options)
        emit_json(
            _summary_json(loaded)
            | {
                "scoring": run_json(scored),
                "lifecycle": lifecycle_json(evaluated),
                "rescoring": run_json(rescored),
                "playbooks": run_report_json(acted),
            }
        )
        return
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Generating accounts", total=accounts)
        summary = load_demo(
            store, options, on_progress=lambda done: progress.update(task, completed=done)
        )
    _print_summary(summary)
    scored, evaluated, rescored = _score_demo(store, options)
    print_run(scored)
    print_lifecycle(evaluated)
    click.echo(f"Rescored {rescored.accounts:,} accounts whose stage changed")
    print_playbook_run(_act_on_demo(store, options))


def _score_demo(
    store: Store, options: DemoOptions
) -> tuple[RunSummary, LifecycleReport, RunSummary]:
    """Score the base as of the day its data runs up to, evaluate its lifecycle (handoffs need
    a first score), then rescore the accounts whose stage, and so scorecard, changed."""
    moment = utc_midnight(options.as_of)
    scored = score_all(store, as_of=moment)
    evaluated = update_lifecycle(store, as_of=moment)
    return scored, evaluated, score_all(store, as_of=moment, incremental=True)


def _act_on_demo(store: Store, options: DemoOptions) -> PlaybookRunReport:
    """Run the playbooks on the scored base: the tasks a CS team would start the day with."""
    return run_playbooks(store, as_of=utc_midnight(options.as_of))


def _summary_json(summary: DemoSummary) -> dict[str, object]:
    return {
        "database": summary.database,
        "seed": summary.options.seed,
        "as_of": summary.options.as_of.isoformat(),
        "history_days": summary.options.history_days,
        "written": summary.written,
        "segments": summary.segments,
        "trajectories": summary.trajectories,
        "seconds": round(summary.seconds, 3),
    }


def _print_summary(summary: DemoSummary) -> None:
    options = summary.options
    click.echo(
        f"Demo customer base written to {summary.database} "
        f"(seed {options.seed}, {options.history_days} days up to {options.as_of.isoformat()}, "
        f"{summary.seconds:.1f}s)"
    )
    records = Table("records", "count", title="Written")
    for kind, count in sorted(summary.written.items()):
        records.add_row(kind, f"{count:,}")
    mix = Table("segment", "accounts", title="Segments")
    for segment, count in sorted(summary.segments.items()):
        mix.add_row(segment, f"{count:,}")
    paths = Table("trajectory", "accounts", title="Trajectories")
    for trajectory, count in sorted(summary.trajectories.items()):
        paths.add_row(trajectory, f"{count:,}")
    Console().print(records, mix, paths)


@click.command()
@json_option
@pass_cli
def plugins(cli: CLIContext, as_json: bool) -> None:
    """List the installed plugins: package, version, hooks, and what each registers."""
    packages = {
        entry_point.name: (entry_point.dist.name, entry_point.dist.version)
        for entry_point in entry_points(group=ENTRY_POINT_GROUP)
        if entry_point.dist is not None
    }
    rows: list[dict[str, Any]] = []
    for name, plugin in sorted(cli.plugins.list_name_plugin()):
        package, release = packages.get(name, ("cs-core", version("cs-core")))
        rows.append(
            {
                "name": name,
                "package": package,
                "version": release,
                "hooks": sorted(
                    caller.name for caller in cli.plugins.get_hookcallers(plugin) or []
                ),
                "registers": _registered_by(plugin),
            }
        )
    if as_json:
        emit_json(rows)
        return
    table = Table("plugin", "package", "version", "registers")
    for row in rows:
        table.add_row(
            row["name"], row["package"], row["version"],
            "; ".join(f"{hook}: {', '.join(names)}" for hook, names in row["registers"].items()),
        )  # fmt: skip
    Console().print(table)


def _registered_by(plugin: object) -> dict[str, list[str]]:
    """Per hook the plugin implements, the names of what it registers through it."""
    found: dict[str, list[str]] = {}
    for hook in ("cs_register_commands", "cs_register_metrics", "cs_register_connectors",
                 "cs_register_actions"):  # fmt: skip
        implementation = getattr(plugin, hook, None)
        if implementation is None:
            continue
        names: list[str] = []

        def collect(item: object, *_: object, names: list[str] = names) -> None:
            names.append(str(getattr(item, "name", item)))

        implementation(register=collect)
        found[hook.removeprefix("cs_register_")] = sorted(names)
    return found
