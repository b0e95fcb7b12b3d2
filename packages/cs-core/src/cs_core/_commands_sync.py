"""``cs sync`` and ``cs connectors``: bring sources into the store."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import (
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from cs_core._cli_context import CLIContext, emit_json, json_option, pass_cli
from cs_core._connectors import installed_connectors
from cs_core._errors import CSError
from cs_core._sync import SyncReport, sync

__all__ = ["connectors", "sync_command"]


def _report_json(report: SyncReport) -> dict[str, object]:
    return {
        "run_id": report.run_id, "connector": report.connector,
        "full_refresh": report.full_refresh, "seconds": round(report.seconds, 3),
        "records_per_second": round(report.records_per_second, 1),
        "streams": [
            {"stream": s.stream, "status": s.status, "read": s.read, "written": s.written,
             "deleted": s.deleted, "quarantined": s.quarantined, "retries": s.retries,
             "error": s.error}
            for s in report.streams
        ],
    }  # fmt: skip


class _Rate(ProgressColumn):
    """Records per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:,.0f} records/s")


class _Tracker:
    """Shows each stream's records read as a line of the progress display."""

    def __init__(self, progress: Progress, connector: str) -> None:
        self.progress, self.connector = progress, connector
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stream: str, read: int) -> None:
        if stream not in self.tasks:
            self.tasks[stream] = self.progress.add_task(f"{self.connector}.{stream}", total=None)
        self.progress.update(self.tasks[stream], completed=read)


def _print_report(report: SyncReport, console: Console) -> None:
    table = Table(
        "stream", "status", "read", "written", "deleted", "quarantined", "retries", "error",
        title=f"Sync {report.run_id} of {report.connector}"
        f"{' (full refresh)' if report.full_refresh else ''}: {report.read:,} records in "
        f"{report.seconds:.1f}s ({report.records_per_second:,.0f}/s)",
    )  # fmt: skip
    for s in report.streams:
        table.add_row(s.stream, s.status, f"{s.read:,}", f"{s.written:,}", f"{s.deleted:,}",
                      f"{s.quarantined:,}", str(s.retries), s.error or "")  # fmt: skip
    console.print(table)


@click.command("sync")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every installed connector.")
@click.option("--stream", "streams", multiple=True, help="Only this stream (repeatable).")
@click.option("--full-refresh", is_flag=True, help="Read every stream from the start.")
@json_option
@pass_cli
def sync_command(
    cli: CLIContext,
    names: tuple[str, ...],
    everything: bool,
    streams: tuple[str, ...],
    full_refresh: bool,
    as_json: bool,
) -> None:
    """Sync connectors NAMES (or --all) into the store, resuming where the last sync stopped.

    Each connector reads its settings from CS_<NAME>_* environment variables. Exits with 1
    when a stream failed (what it committed is kept).
    """
    registry = installed_connectors()
    if everything == bool(names):
        raise click.UsageError("name the connectors to sync, or give --all")
    chosen = sorted(registry.connectors) if everything else list(names)
    store = cli.store()
    store.check_ready()
    connectors = [registry.get(name).from_environment() for name in chosen]
    reports = []
    console = Console(stderr=True)
    for connector in connectors:
        with Progress(
            TextColumn("{task.description}"), TextColumn("{task.completed:,} records"),
            _Rate(), TimeElapsedColumn(),
            console=console, transient=True, disable=as_json,
        ) as progress:  # fmt: skip
            reports.append(
                sync(store, connector, streams=streams or None, full_refresh=full_refresh,
                     on_progress=_Tracker(progress, connector.name))
            )  # fmt: skip
    if as_json:
        emit_json([_report_json(report) for report in reports])
    else:
        for report in reports:
            _print_report(report, Console())
    failed = [f"{r.connector}.{s.stream}" for r in reports for s in r.streams if s.error]
    if failed:
        raise CSError(f"streams failed: {', '.join(failed)} (what they committed is kept)")


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def connectors(context: click.Context, as_json: bool) -> None:
    """The installed connectors and their streams; `cs connectors check NAME` tests one."""
    if context.invoked_subcommand is not None:
        return
    registry = installed_connectors()
    rows = [
        {"name": name, "plugin": registry.owners[name],
         "settings": f"{connector.env_prefix()}*", "doc": (connector.__doc__ or "").strip()}
        for name, connector in sorted(registry.connectors.items())
    ]  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']} ({row['plugin']}; settings {row['settings']}): {row['doc']}")


@connectors.command()
@click.argument("name")
def check(name: str) -> None:
    """Check that connector NAME is configured and can reach its source."""
    connector = installed_connectors().get(name).from_environment()
    connector.check()
    streams = ", ".join(stream.name for stream in connector.streams())
    click.echo(f"{name}: ready (streams: {streams})")
