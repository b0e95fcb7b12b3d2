"""``cs playbooks`` and ``cs tasks``: turning scores into action, and the work it creates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from cs_core._cli_context import CLIContext, as_of_option, emit_json, json_option, moment, pass_cli
from cs_core._enums import TaskType
from cs_core._playbook_engine import PlaybookHit, PlaybookRunReport, preview_playbook, run_playbooks
from cs_core._playbook_reports import playbook_actions, playbook_effectiveness, playbook_runs
from cs_core._playbooks import Playbook, installed_playbooks
from cs_core._tables import Task
from cs_core._tasks import complete_task, list_tasks, reassign_task, snooze_task

__all__ = ["playbooks", "print_playbook_run", "run_report_json", "tasks"]


@click.group()
def playbooks() -> None:
    """Playbooks: list, preview, run, and see what they did.

    Built-in playbooks ship with cs-core; CS_PLAYBOOKS names a TOML file or folder with yours.
    """


def _trigger(playbook: Playbook) -> str:
    details = ", ".join(
        f"{name}={value}" for name, value in playbook.trigger.model_dump(exclude={"kind"}).items()
        if value is not None
    )  # fmt: skip
    return f"{playbook.trigger.kind}({details})"


@playbooks.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """The installed playbooks: trigger, conditions, actions."""
    found = installed_playbooks()
    if as_json:
        emit_json([playbook.model_dump(mode="json") for playbook in found])
        return
    table = Table("name", "enabled", "trigger", "conditions", "actions", title="Playbooks")
    for playbook in found:
        table.add_row(
            playbook.name,
            "yes" if playbook.enabled else "no",
            _trigger(playbook),
            ", ".join(condition.kind for condition in playbook.conditions) or "-",
            ", ".join(action.kind for action in playbook.actions),
        )
    Console().print(table)


def _hits_json(hits: Sequence[PlaybookHit]) -> list[dict[str, object]]:
    return [
        {"playbook": hit.playbook, "account": hit.account, "account_name": hit.account_name,
         "occurrence": hit.occurrence, "reason": hit.reason, "fires": hit.fires,
         "blocked_by": hit.blocked_by, "actions": list(hit.actions)}
        for hit in hits
    ]  # fmt: skip


@playbooks.command()
@click.argument("name")
@as_of_option
@json_option
@pass_cli
def preview(cli: CLIContext, name: str, as_of: datetime | None, as_json: bool) -> None:
    """Which accounts playbook NAME would hit now, and why; nothing is recorded or sent."""
    hits = preview_playbook(cli.store(), name, as_of=moment(as_of))
    if as_json:
        emit_json(_hits_json(hits))
        return
    table = Table("account", "why", "fires", "would do", title=f"Preview of {name}")
    for hit in hits:
        table.add_row(
            f"{hit.account_name} ({hit.account})",
            hit.reason,
            "yes" if hit.fires else f"no: {hit.blocked_by}",
            "\n".join(hit.actions),
        )
    Console().print(table)
    click.echo(f"{sum(hit.fires for hit in hits):,} of {len(hits):,} hits would fire")


@playbooks.command()
@click.option("--dry-run", is_flag=True, help="Report what would fire; record and send nothing.")
@as_of_option
@json_option
@pass_cli
def run(cli: CLIContext, dry_run: bool, as_of: datetime | None, as_json: bool) -> None:
    """Run every enabled playbook once: fire on new triggers, deliver pending notifications."""
    report = run_playbooks(cli.store(), as_of=moment(as_of), dry_run=dry_run)
    if as_json:
        emit_json(run_report_json(report))
        return
    print_playbook_run(report)


def run_report_json(report: PlaybookRunReport) -> dict[str, object]:
    """A playbook run's summary, for ``--json``."""
    summary: dict[str, object] = {
        "run_id": report.run_id, "as_of": report.as_of.isoformat(), "dry_run": report.dry_run,
        "fired": report.fired, "tasks_created": report.tasks_created,
        "actions_sent": report.actions_sent, "actions_failed": report.actions_failed,
        "flags_set": report.flags_set, "tasks_escalated": report.tasks_escalated,
        "by_playbook": report.by_playbook,
    }  # fmt: skip
    if report.dry_run:
        summary["hits"] = _hits_json(report.hits)
    return summary


def print_playbook_run(report: PlaybookRunReport) -> None:
    """A playbook run's summary, for people."""
    if report.dry_run:
        click.echo(f"Dry run as of {report.as_of:%Y-%m-%d}: {report.fired:,} firings would happen")
    else:
        click.echo(
            f"Playbook run {report.run_id} as of {report.as_of:%Y-%m-%d}: {report.fired:,} fired, "
            f"{report.tasks_created:,} tasks created, {report.tasks_escalated:,} escalated, "
            f"{report.actions_sent:,} notifications sent, {report.actions_failed:,} failed"
        )
    table = Table("playbook", "fired" if not report.dry_run else "would fire")
    for name, count in report.by_playbook.items():
        table.add_row(name, f"{count:,}")
    Console().print(table)


@playbooks.command()
@click.option("--failed", is_flag=True, help="Only the deliveries that failed or await a retry.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@pass_cli
def actions(cli: CLIContext, failed: bool, limit: int, as_json: bool) -> None:
    """The actions playbooks took and their outcomes, newest first."""
    found = playbook_actions(
        cli.store(), statuses=("failed", "retrying") if failed else None, limit=limit
    )
    if as_json:
        emit_json(
            [
                {"firing": a.firing_key, "playbook": a.playbook, "account_id": a.account_id,
                 "position": a.position, "kind": a.kind, "channel": a.channel,
                 "status": a.status, "attempts": a.attempts, "outcome": a.outcome,
                 "next_attempt_at": a.next_attempt_at and a.next_attempt_at.isoformat()}
                for a in found
            ]
        )  # fmt: skip
        return
    table = Table("playbook", "account", "action", "status", "attempts", "outcome")
    for a in found:
        action = a.kind + (f" to {a.channel}" if a.channel else "")
        table.add_row(a.playbook, str(a.account_id), action, a.status, str(a.attempts),
                      a.outcome or "-")  # fmt: skip
    Console().print(table)


@playbooks.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
@pass_cli
def runs(cli: CLIContext, limit: int, as_json: bool) -> None:
    """The audit log: the latest runs and what each did."""
    found = playbook_runs(cli.store(), limit=limit)
    rows = [
        {"run_id": r.id, "as_of": r.as_of.isoformat(), "started_at": r.started_at.isoformat(),
         "finished_at": r.finished_at and r.finished_at.isoformat(), "fired": r.fired,
         "tasks_created": r.tasks_created, "actions_sent": r.actions_sent,
         "actions_failed": r.actions_failed}
        for r in found
    ]  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    table = Table("run", "as of", "started", "fired", "tasks", "sent", "failed")
    for row in rows:
        table.add_row(str(row["run_id"]), str(row["as_of"])[:10], str(row["started_at"])[:19],
                      str(row["fired"]), str(row["tasks_created"]), str(row["actions_sent"]),
                      str(row["actions_failed"]))  # fmt: skip
    Console().print(table)


@playbooks.command()
@as_of_option
@json_option
@pass_cli
def effectiveness(cli: CLIContext, as_of: datetime | None, as_json: bool) -> None:
    """Per playbook, how often health recovered after it fired."""
    found = playbook_effectiveness(cli.store(), as_of=moment(as_of))
    if as_json:
        emit_json([{"playbook": e.playbook, "fired": e.fired, "judged": e.judged,
                    "worked": e.worked, "rate": e.rate} for e in found])  # fmt: skip
        return
    table = Table("playbook", "fired", "judged", "health recovered", "rate")
    for e in found:
        table.add_row(e.playbook, f"{e.fired:,}", f"{e.judged:,}", f"{e.worked:,}",
                      "-" if e.rate is None else f"{e.rate:.0%}")  # fmt: skip
    Console().print(table)


def _tasks_json(found: Sequence[Task]) -> list[dict[str, object]]:
    return [
        {"id": t.id, "account_id": t.account_id, "type": t.type.value, "title": t.title,
         "owner_role": t.owner_role, "owner": t.owner, "priority": t.priority.value,
         "status": t.status.value, "due_on": t.due_on.isoformat(), "playbook": t.playbook,
         "escalation_level": t.escalation_level}
        for t in found
    ]  # fmt: skip


@click.group(invoke_without_command=True)
@click.option("--owner", help="Only this owner's tasks (an e-mail).")
@click.option("--type", "kind", type=click.Choice([kind.value for kind in TaskType]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_context
def tasks(
    context: click.Context, owner: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """Open tasks, soonest due first; complete, snooze or reassign one."""
    if context.invoked_subcommand is not None:
        return
    cli = context.find_object(CLIContext)
    if cli is None:
        raise click.UsageError("tasks is a subcommand of cs: run `cs tasks`")
    found = list_tasks(cli.store(), owner=owner, type=kind, limit=limit)
    if as_json:
        emit_json(_tasks_json(found))
        return
    table = Table("id", "due", "priority", "type", "owner", "title", title="Open tasks")
    for t in found:
        table.add_row(str(t.id), t.due_on.isoformat(), t.priority.value, t.type.value,
                      t.owner or t.owner_role, t.title)  # fmt: skip
    Console().print(table)


@tasks.command()
@click.argument("task_id", type=int)
@click.option("--by", required=True, help="Who did it.")
@pass_cli
def complete(cli: CLIContext, task_id: int, by: str) -> None:
    """Mark task TASK_ID done."""
    task = complete_task(cli.store(), task_id, by=by)
    click.echo(f"Task {task.id} done: {task.title}")


@tasks.command()
@click.argument("task_id", type=int)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@pass_cli
def snooze(cli: CLIContext, task_id: int, until: datetime) -> None:
    """Put task TASK_ID aside until a day."""
    task = snooze_task(cli.store(), task_id, until=until.date())
    click.echo(f"Task {task.id} snoozed until {task.due_on}")


@tasks.command()
@click.argument("task_id", type=int)
@click.option("--to", "owner", required=True, help="The new owner (an e-mail).")
@pass_cli
def reassign(cli: CLIContext, task_id: int, owner: str) -> None:
    """Give task TASK_ID to someone else."""
    task = reassign_task(cli.store(), task_id, owner=owner)
    click.echo(f"Task {task.id} now with {task.owner}")
