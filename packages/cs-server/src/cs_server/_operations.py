"""Operations a client can start: a playbook run, a rescoring of some accounts, a connector sync.

Each runs cs-core's own engine (``run_playbooks``, ``score_all``, ``sync``) in a worker thread
and answers with its report once it is done; what a caller got wrong comes back as a typed error,
with nothing started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from anyio import to_thread
from sqlalchemy import select

from cs_core import Account as AccountRow
from cs_core import (
    ConfigurationError,
    Connector,
    CSError,
    InvalidArgumentError,
    PlaybookRunReport,
    RunSummary,
    StreamReport,
    SyncReport,
    installed_connectors,
    mark_for_rescoring,
    run_playbooks,
    score_all,
    sync,
)
from cs_core import Playbook as PlaybookSpec
from cs_server._context import Info
from cs_server._reports import PlaybookHitView, TierCount, playbook
from cs_server._results import (
    AccountNotFound,
    ConnectorNotConfigured,
    ConnectorNotFound,
    PlaybookNotFound,
    Rejected,
)
from cs_server._types import decode_id, encode_id

__all__ = [
    "PlaybookRunResult",
    "RescoreResult",
    "SyncResult",
    "rescore_accounts",
    "start_playbook_run",
    "start_sync",
]


@strawberry.type(description="How many times one playbook fired (or, dry, would fire).")
class PlaybookFirings:
    playbook: str
    fired: int


@strawberry.type(description="What a playbook run did or, dry, would do.")
class PlaybookRunDone:
    run_id: strawberry.ID | None = strawberry.field(
        description="The PlaybookRun recorded in the audit log; null for a dry run."
    )
    as_of: datetime
    dry_run: bool
    fired: int
    tasks_created: int
    actions_sent: int
    actions_failed: int
    flags_set: int
    tasks_escalated: int
    by_playbook: list[PlaybookFirings]
    hits: list[PlaybookHitView] = strawberry.field(
        description="Every hit a dry run found; a real run keeps its firings in the store."
    )

    @classmethod
    def of(cls, report: PlaybookRunReport) -> PlaybookRunDone:
        return cls(
            run_id=None if report.run_id is None else encode_id("PlaybookRun", report.run_id),
            as_of=report.as_of, dry_run=report.dry_run, fired=report.fired,
            tasks_created=report.tasks_created, actions_sent=report.actions_sent,
            actions_failed=report.actions_failed, flags_set=report.flags_set,
            tasks_escalated=report.tasks_escalated,
            by_playbook=[PlaybookFirings(playbook=name, fired=count)
                         for name, count in report.by_playbook.items()],
            hits=[PlaybookHitView.of(hit) for hit in report.hits],
        )  # fmt: skip


PlaybookRunResult = Annotated[
    PlaybookRunDone | PlaybookNotFound | Rejected, strawberry.union("PlaybookRunResult")
]


async def start_playbook_run(
    info: Info,
    names: Annotated[
        list[str] | None,
        strawberry.argument(description="The playbooks to run; default: every enabled one."),
    ] = None,
    dry_run: Annotated[
        bool, strawberry.argument(description="Report what would fire; record and send nothing.")
    ] = False,
) -> PlaybookRunResult:
    if names == []:
        return Rejected(message="name at least one playbook, or leave names out to run them all")
    chosen: list[PlaybookSpec] | None = None
    if names is not None:
        chosen = []
        for name in names:
            found = playbook(name)
            if isinstance(found, PlaybookNotFound):
                return found
            if not found.enabled:
                return Rejected(message=f"playbook {name!r} is disabled: enable it to run it")
            chosen.append(found)
    store = info.context.store

    def run() -> PlaybookRunDone | Rejected:
        try:
            report = run_playbooks(store, playbooks=chosen, as_of=info.context.loaders.now,
                                   dry_run=dry_run)  # fmt: skip
        except CSError as error:
            return Rejected(message=str(error))
        return PlaybookRunDone.of(report)

    return await to_thread.run_sync(run)


@strawberry.type(description="What a scoring run did.")
class ScoringRunDone:
    run_id: int = strawberry.field(description="The scoring run's number in the store.")
    kind: str = strawberry.field(
        description="incremental, or full when a scorecard changed since the last run."
    )
    as_of: datetime
    accounts: int = strawberry.field(description="Accounts scored.")
    changed: int = strawberry.field(description="Accounts whose health changed.")
    events: int = strawberry.field(description="Outbox events it appended.")
    signals_opened: int
    tiers: list[TierCount] = strawberry.field(description="The scored accounts per tier.")
    seconds: float

    @classmethod
    def of(cls, summary: RunSummary) -> ScoringRunDone:
        return cls(run_id=summary.run_id, kind=summary.kind, as_of=summary.as_of,
                   accounts=summary.accounts, changed=summary.changed, events=summary.events,
                   signals_opened=summary.signals_opened,
                   tiers=[TierCount(tier=tier, accounts=count)
                          for tier, count in sorted(summary.tiers.items())],
                   seconds=round(summary.seconds, 3))  # fmt: skip


RescoreResult = Annotated[
    ScoringRunDone | AccountNotFound | Rejected, strawberry.union("RescoreResult")
]


async def rescore_accounts(
    info: Info,
    account_ids: Annotated[
        list[strawberry.ID], strawberry.argument(description="The Accounts to score again.")
    ],
) -> RescoreResult:
    if not account_ids:
        return Rejected(message="name at least one account to rescore")
    try:
        named = {decode_id("Account", account_id): account_id for account_id in account_ids}
    except InvalidArgumentError as error:
        return AccountNotFound(message=str(error))
    store = info.context.store

    def rescore() -> ScoringRunDone | AccountNotFound | Rejected:
        with store.transaction() as session:
            known = set(session.scalars(select(AccountRow.id).where(AccountRow.id.in_(named))))
            missing = [given for key, given in named.items() if key not in known]
            if missing:
                return AccountNotFound(message=f"no account {', '.join(missing)}")
            mark_for_rescoring(session, named)
        try:
            summary = score_all(store, incremental=True, scorecards=info.context.scorecards)
        except CSError as error:
            return Rejected(message=str(error))
        return ScoringRunDone.of(summary)

    return await to_thread.run_sync(rescore)


@strawberry.type(description="What a sync did with one stream.")
class SyncStream:
    stream: str
    status: str = strawberry.field(description="succeeded or failed.")
    read: int
    written: int
    deleted: int = strawberry.field(description="Records removed because the source deleted them.")
    quarantined: int = strawberry.field(description="Records set aside as invalid, with why.")
    retries: int
    error: str | None

    @classmethod
    def of(cls, report: StreamReport) -> SyncStream:
        return cls(stream=report.stream, status=report.status, read=report.read,
                   written=report.written, deleted=report.deleted,
                   quarantined=report.quarantined, retries=report.retries,
                   error=report.error)  # fmt: skip


@strawberry.type(
    description="What a sync of one connector did. A failed stream keeps what it committed "
    "and does not stop the others; the next sync resumes where it stopped."
)
class SyncDone:
    run_id: int = strawberry.field(description="The sync run's number in the store.")
    connector: str
    full_refresh: bool
    failed: bool = strawberry.field(description="A stream failed: see its error.")
    records_read: int
    seconds: float
    streams: list[SyncStream]

    @classmethod
    def of(cls, report: SyncReport) -> SyncDone:
        return cls(run_id=report.run_id, connector=report.connector,
                   full_refresh=report.full_refresh, failed=report.failed,
                   records_read=report.read, seconds=round(report.seconds, 3),
                   streams=[SyncStream.of(stream) for stream in report.streams])  # fmt: skip


SyncResult = Annotated[
    SyncDone | ConnectorNotFound | ConnectorNotConfigured | Rejected,
    strawberry.union("SyncResult"),
]


def _configured(name: str) -> Connector | ConnectorNotFound | ConnectorNotConfigured:
    """The installed connector ``name`` configured from the server's environment, or why not."""
    try:
        connector = installed_connectors().get(name)
    except ConfigurationError as error:
        return ConnectorNotFound(message=str(error))
    try:
        return connector.from_environment()
    except ConfigurationError as error:
        return ConnectorNotConfigured(message=str(error))


async def start_sync(
    info: Info,
    connector: Annotated[str, strawberry.argument(description="An installed connector's name.")],
    streams: Annotated[
        list[str] | None, strawberry.argument(description="Only these; default: all of them.")
    ] = None,
    full_refresh: Annotated[
        bool, strawberry.argument(description="Read every stream from the start.")
    ] = False,
) -> SyncResult:
    store = info.context.store

    def run() -> SyncDone | ConnectorNotFound | ConnectorNotConfigured | Rejected:
        configured = _configured(connector)
        if not isinstance(configured, Connector):
            return configured
        try:
            report = sync(store, configured, streams=streams, full_refresh=full_refresh)
        except CSError as error:
            return Rejected(message=str(error))
        return SyncDone.of(report)

    return await to_thread.run_sync(run)
