"""Operations a client can run: a playbook run, a rescoring of some accounts.

Each runs cs-core's own engine (``run_playbooks``, ``score_all``) in a worker thread and answers
with its report once it is done; what a caller got wrong comes back as a typed error, with
nothing started. (Syncs, which can take minutes, go on after their answer: see ``_syncs``.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from anyio import to_thread
from sqlalchemy import select

from cs_core import Account as AccountRow
from cs_core import (
    CSError,
    InvalidArgumentError,
    PlaybookRunReport,
    RunSummary,
    mark_for_rescoring,
    run_playbooks,
    score_all,
)
from cs_core import Playbook as PlaybookSpec
from cs_server._context import Info
from cs_server._reports import PlaybookHitView, TierCount, playbook
from cs_server._results import (
    AccountNotFound,
    PlaybookNotFound,
    Rejected,
)
from cs_server._types import decode_id, encode_id

__all__ = [
    "PlaybookRunResult",
    "RescoreResult",
    "rescore_accounts",
    "start_playbook_run",
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
