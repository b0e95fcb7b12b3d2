"""The playbook engine: triggers become firings, firings become tasks, flags and notifications.

A run takes each enabled playbook in turn. Event-triggered playbooks read the outbox after their
cursor; state-triggered ones compare the accounts whose state holds now with the episodes they
already fired for. Each hit whose account meets the conditions **fires** under the key
``playbook:account:occurrence``, at most once ever: a rerun, or a run after a crash, never
duplicates a task or a message. One transaction per playbook records its firings, their local
actions (tasks, flags, escalations), their pending notifications, the events, and the cursor.

Notifications go out after those transactions, through the action plugins; each outcome is
recorded (sent, or failed with the reason), and a failed one is retried by later runs with a
doubling wait until ``max_attempts``. A dry run records nothing and sends nothing: it reports
which accounts each playbook would hit now, and why.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_core._actions import ActionFailedError, ActionRegistry, Notification, installed_actions
from cs_core._enums import LifecycleStage, Segment, TaskPriority, TaskStatus
from cs_core._errors import ConfigurationError
from cs_core._lifecycle import account_stage, join_stage
from cs_core._outbox import NewEvent, append_events, read_events
from cs_core._overrides import override_in_force
from cs_core._playbook_triggers import (
    EventTrigger,
    Hit,
    StateTrigger,
    event_types,
    match_event,
    state_hits,
)
from cs_core._playbooks import (
    CreateTask,
    Escalate,
    HealthTier,
    MinArr,
    NoActivityFor,
    NoOpenTask,
    Notify,
    Playbook,
    SegmentIn,
    SetFlag,
    StageIn,
    installed_playbooks,
)
from cs_core._policies import Policies, load_policies
from cs_core._sql import chunks, dialect_insert
from cs_core._store import Store
from cs_core._tables import (
    Account,
    AccountFlag,
    HealthOverride,
    HealthScoreRow,
    OutboxEvent,
    PlaybookAction,
    PlaybookCursor,
    PlaybookEpisode,
    PlaybookFiring,
    PlaybookRun,
    Task,
    UsageDaily,
)
from cs_core._types import utc_moment

__all__ = [
    "PLAYBOOK_FIRED",
    "TASK_CREATED",
    "TASK_ESCALATED",
    "AccountContext",
    "PlaybookHit",
    "PlaybookRunReport",
    "deliver_pending",
    "preview_playbook",
    "run_playbooks",
]

PLAYBOOK_FIRED = "playbook.fired"
TASK_CREATED = "task.created"
TASK_ESCALATED = "task.escalated"

_OPEN = (TaskStatus.OPEN, TaskStatus.SNOOZED)
_EVENT_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AccountContext:
    """What conditions and templates read about an account."""

    account_id: int
    account: str
    name: str
    owner: str | None
    segment: Segment
    arr: Decimal | None
    stage: LifecycleStage
    tier: str | None
    score: float | None
    open_task_types: frozenset[str]
    last_active: date | None

    def fields(self, playbook: str, reason: str) -> dict[str, str]:
        """The template fields (see :data:`TEMPLATE_FIELDS`)."""
        return {
            "account": self.account, "account_name": self.name, "owner": self.owner or "-",
            "segment": self.segment.value, "tier": self.tier or "unscored",
            "score": "-" if self.score is None else f"{self.score:.0f}",
            "stage": self.stage.value, "reason": reason, "playbook": playbook,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlaybookHit:
    """A playbook's trigger occurrence for an account, and what came of it."""

    playbook: str
    account: str
    account_name: str
    occurrence: str
    reason: str
    blocked_by: str | None
    """The condition that stopped it, if one did."""
    actions: tuple[str, ...]
    """What firing does (or would do), one line per action."""

    @property
    def fires(self) -> bool:
        return self.blocked_by is None


@dataclass(frozen=True, slots=True)
class PlaybookRunReport:
    """What a run did (or, dry, would do)."""

    run_id: int | None
    as_of: datetime
    dry_run: bool
    fired: int = 0
    tasks_created: int = 0
    actions_sent: int = 0
    actions_failed: int = 0
    flags_set: int = 0
    tasks_escalated: int = 0
    by_playbook: dict[str, int] = field(default_factory=dict)
    hits: tuple[PlaybookHit, ...] = ()
    """Every hit a dry run found (a real run keeps only the firings, in the store)."""


def _check_channels(
    playbooks: Iterable[Playbook], policies: Policies, actions: ActionRegistry
) -> None:
    for playbook in playbooks:
        for action in playbook.actions:
            if not isinstance(action, Notify):
                continue
            channel = policies.playbooks.channels.get(action.channel)
            if channel is None:
                raise ConfigurationError(
                    f"playbook {playbook.name!r} notifies channel {action.channel!r}, which the "
                    f"policies do not declare: add [playbooks.channels.{action.channel}]"
                )
            actions.get(channel.action)


def run_playbooks(
    store: Store,
    *,
    playbooks: Sequence[Playbook] | None = None,
    as_of: datetime | None = None,
    dry_run: bool = False,
    policies: Policies | None = None,
    actions: ActionRegistry | None = None,
) -> PlaybookRunReport:
    """Run every enabled playbook (default: the installed ones) once, as of ``as_of``."""
    moment = utc_moment(as_of, "as_of")
    chosen = [
        playbook
        for playbook in (installed_playbooks() if playbooks is None else playbooks)
        if playbook.enabled
    ]
    settings = policies or load_policies()
    registry = actions or installed_actions()
    _check_channels(chosen, settings, registry)
    store.check_ready()
    run_id = None
    if not dry_run:
        with store.transaction() as session:
            run = PlaybookRun(as_of=moment, started_at=datetime.now(UTC),
                              playbooks=[p.name for p in chosen], fired=0, tasks_created=0,
                              actions_sent=0, actions_failed=0)  # fmt: skip
            session.add(run)
            session.flush()
            run_id = run.id
    totals: Counter[str] = Counter()
    by_playbook: dict[str, int] = {}
    hits: list[PlaybookHit] = []
    for playbook in chosen:
        with store.transaction() as session:
            found = _run_one(session, playbook, moment, settings, run_id, totals, dry_run)
        by_playbook[playbook.name] = (
            sum(hit.fires for hit in found) if dry_run else totals.pop(f"fired:{playbook.name}", 0)
        )
        if dry_run:
            hits.extend(found)
    if not dry_run:
        totals.update(deliver_pending(store, policies=settings, actions=registry))
        with store.transaction() as session:
            finished = session.get_one(PlaybookRun, run_id)
            finished.finished_at = datetime.now(UTC)
            finished.fired = totals["fired"]
            finished.tasks_created = totals["tasks"]
            finished.actions_sent = totals["sent"]
            finished.actions_failed = totals["failed"]
    return PlaybookRunReport(
        run_id=run_id,
        as_of=moment,
        dry_run=dry_run,
        fired=sum(by_playbook.values()),
        tasks_created=totals["tasks"],
        actions_sent=totals["sent"],
        actions_failed=totals["failed"],
        flags_set=totals["flags"],
        tasks_escalated=totals["escalated"],
        by_playbook=by_playbook,
        hits=tuple(hits),
    )


def preview_playbook(
    store: Store,
    playbook: Playbook | str,
    *,
    as_of: datetime | None = None,
    policies: Policies | None = None,
) -> list[PlaybookHit]:
    """Which accounts ``playbook`` would hit now, and why; nothing is recorded or sent."""
    if isinstance(playbook, str):
        known = {found.name: found for found in installed_playbooks()}
        if playbook not in known:
            raise ConfigurationError(f"no playbook {playbook!r}; known: {', '.join(sorted(known))}")
        playbook = known[playbook]
    report = run_playbooks(
        store, playbooks=[playbook.model_copy(update={"enabled": True})], as_of=as_of,
        dry_run=True, policies=policies,
    )  # fmt: skip
    return list(report.hits)


def _run_one(
    session: Session,
    playbook: Playbook,
    moment: datetime,
    policies: Policies,
    run_id: int | None,
    totals: Counter[str],
    dry_run: bool,
) -> list[PlaybookHit]:
    trigger = playbook.trigger
    if isinstance(trigger, StateTrigger):
        found = _state_hits(session, playbook.name, trigger, moment, policies, dry_run)
    else:
        found = _event_hits(session, playbook.name, trigger, moment, policies, dry_run)
    contexts = _contexts(session, {hit.account_id for hit in found}, moment)
    fired_before = _already_fired(session, playbook, found)
    results = []
    for hit in found:
        context = contexts.get(hit.account_id)
        if context is None or _key(playbook, hit) in fired_before:
            continue
        blocked = _blocked_by(playbook, context, moment)
        lines = tuple(_describe(action, context, playbook, hit) for action in playbook.actions)
        results.append(PlaybookHit(playbook.name, context.account, context.name, hit.occurrence,
                                   hit.reason, blocked, lines))  # fmt: skip
        if blocked is None and not dry_run and run_id is not None:
            _fire(session, playbook, hit, context, moment, policies, run_id, totals)
    return results


def _key(playbook: Playbook, hit: Hit) -> str:
    """The idempotency key of a firing: one per playbook, account and trigger occurrence."""
    return f"{playbook.name}:{hit.account_id}:{hit.occurrence}"


def _already_fired(session: Session, playbook: Playbook, hits: Sequence[Hit]) -> set[str]:
    keys = [_key(playbook, hit) for hit in hits]
    fired: set[str] = set()
    for page in chunks(keys, 1000):
        fired.update(
            session.scalars(select(PlaybookFiring.key).where(PlaybookFiring.key.in_(page)))
        )
    return fired


def _event_hits(
    session: Session,
    name: str,
    trigger: EventTrigger,
    moment: datetime,
    policies: Policies,
    dry_run: bool,
) -> list[Hit]:
    cursor = session.get(PlaybookCursor, name)
    if cursor is None:
        # A new playbook reacts to recent events only, not to the whole history.
        cutoff = moment - timedelta(days=policies.playbooks.lookback_days)
        after = (
            session.scalar(select(func.max(OutboxEvent.id)).where(OutboxEvent.created_at < cutoff))
            or 0
        )
    else:
        after = cursor.last_event_id
    hits: list[Hit] = []
    broadcast: list[tuple[int, str]] = []
    while True:
        page = read_events(session, after=after, limit=_EVENT_PAGE, types=event_types(trigger))
        for event in page:
            reason = match_event(trigger, event)
            if reason is None:
                continue
            if event.account_id is None:
                broadcast.append((event.id, reason))
            else:
                hits.append(Hit(event.account_id, f"event:{event.id}", reason,
                                {"event_id": event.id, "event": event.type}))  # fmt: skip
        if len(page) < _EVENT_PAGE:
            break
        after = page[-1].id
    if page:
        after = page[-1].id
    if broadcast:
        everyone = list(session.scalars(select(Account.id)))
        hits.extend(
            Hit(account, f"event:{event_id}", reason, {"event_id": event_id})
            for event_id, reason in broadcast
            for account in everyone
        )
    if not dry_run:
        session.merge(PlaybookCursor(playbook=name, last_event_id=after))
    return hits


def _state_hits(
    session: Session,
    name: str,
    trigger: StateTrigger,
    moment: datetime,
    policies: Policies,
    dry_run: bool,
) -> list[Hit]:
    holding = list(state_hits(session, trigger, moment, policies))
    now = {(hit.account_id, hit.occurrence) for hit in holding}
    episodes = {
        (row.account_id, row.occurrence): row
        for row in session.scalars(select(PlaybookEpisode).where(PlaybookEpisode.playbook == name))
    }
    if not dry_run:
        for key, episode in episodes.items():
            if key not in now:
                session.delete(episode)  # the state ended: a new one fires again
    # The occurrence of a state is the episode: the key carries when it began.
    began = moment.date().isoformat()
    return [
        Hit(hit.account_id, f"{hit.occurrence}@{began}", hit.reason, hit.details)
        for hit in holding
        if (hit.account_id, hit.occurrence) not in episodes
    ]


def _contexts(session: Session, ids: set[int], moment: datetime) -> dict[int, AccountContext]:
    contexts: dict[int, AccountContext] = {}
    if not ids:
        return contexts
    for page in chunks(sorted(ids), 1000):
        open_tasks: dict[int, set[str]] = defaultdict(set)
        for account, kind in session.execute(
            select(Task.account_id, Task.type).where(
                Task.account_id.in_(page), Task.status.in_(_OPEN)
            )
        ):
            open_tasks[account].add(kind.value)
        last_active = dict(
            session.execute(
                select(UsageDaily.account_id, func.max(UsageDaily.day))
                .where(UsageDaily.account_id.in_(page), UsageDaily.active_users > 0)
                .group_by(UsageDaily.account_id)
            ).all()
        )
        tier = func.coalesce(HealthOverride.tier, HealthScoreRow.tier)
        score = func.coalesce(HealthOverride.score, HealthScoreRow.score)
        rows = session.execute(
            join_stage(
                select(Account.id, Account.source, Account.external_id, Account.name,
                       Account.owner, Account.segment, Account.arr, tier, score, account_stage())
            )
            .outerjoin(HealthScoreRow, HealthScoreRow.account_id == Account.id)
            .outerjoin(HealthOverride,
                       (HealthOverride.account_id == Account.id) & override_in_force(moment))
            .where(Account.id.in_(page))
        )  # fmt: skip
        for (
            account,
            source,
            external_id,
            name,
            owner,
            segment,
            arr,
            tier_now,
            score_now,
            stage,
        ) in rows:
            contexts[account] = AccountContext(
                account, f"{source}:{external_id}", name, owner, segment, arr, stage, tier_now,
                score_now, frozenset(open_tasks.get(account, ())), last_active.get(account),
            )  # fmt: skip
    return contexts


def _blocked_by(  # noqa: PLR0911, PLR0912 - one case per kind of condition
    playbook: Playbook, context: AccountContext, moment: datetime
) -> str | None:
    """The first condition the account fails, described; ``None`` when all hold."""
    for condition in playbook.conditions:
        match condition:
            case HealthTier(tiers=tiers):
                if (context.tier or "").lower() not in {tier.lower() for tier in tiers}:
                    return f"tier is {context.tier or 'unscored'}, not {'/'.join(sorted(tiers))}"
            case SegmentIn(segments=segments):
                if context.segment not in segments:
                    return f"segment is {context.segment.value}"
            case StageIn(stages=stages):
                if context.stage not in stages:
                    return f"stage is {context.stage.value}"
            case MinArr(arr=arr):
                if context.arr is None or context.arr < arr:
                    return f"ARR {context.arr} is under {arr}"
            case NoOpenTask(type=kind):
                if (kind is None and context.open_task_types) or (
                    kind is not None and kind.value in context.open_task_types
                ):
                    return f"an open {kind.value if kind else ''} task exists".replace("  ", " ")
            case NoActivityFor(days=days):
                if (
                    context.last_active is not None
                    and (moment.date() - context.last_active).days < days
                ):
                    return f"active on {context.last_active}"
    return None


def _describe(action: object, context: AccountContext, playbook: Playbook, hit: Hit) -> str:
    fields = context.fields(playbook.name, hit.reason)
    match action:
        case CreateTask():
            return (f"task ({action.type.value}, {action.priority.value}, due in "
                    f"{action.due_in_days} days) for {action.owner_role}: "
                    f"{action.title.format_map(fields)}")  # fmt: skip
        case Notify():
            return f"notify {action.channel}: {action.message.format_map(fields)}"
        case SetFlag():
            return f"flag {action.flag} = {action.value}"
        case Escalate():
            return "escalate the account's open tasks"
    raise AssertionError(f"unknown action {action!r}")  # pragma: no cover - validated on load


def _fire(
    session: Session,
    playbook: Playbook,
    hit: Hit,
    context: AccountContext,
    moment: datetime,
    policies: Policies,
    run_id: int,
    totals: Counter[str],
) -> None:
    key = _key(playbook, hit)
    inserted = session.scalar(
        dialect_insert(session, PlaybookFiring.__table__)  # type: ignore[arg-type]
        .values(key=key, playbook=playbook.name, account_id=context.account_id, run_id=run_id,
                reason=hit.reason[:500], details=dict(hit.details), score=context.score,
                tier=context.tier, fired_at=moment)
        .on_conflict_do_nothing()
        .returning(PlaybookFiring.key)
    )  # fmt: skip
    if inserted is None:
        return  # another run fired it first
    if playbook.is_state_triggered:
        occurrence = hit.occurrence.rsplit("@", 1)[0]
        session.add(PlaybookEpisode(playbook=playbook.name, account_id=context.account_id,
                                    occurrence=occurrence, began_at=moment))  # fmt: skip
    totals["fired"] += 1
    totals[f"fired:{playbook.name}"] += 1
    now = datetime.now(UTC)
    fields = context.fields(playbook.name, hit.reason)
    fired = {"playbook": playbook.name, "key": key, "account_id": context.account_id,
             "reason": hit.reason, "as_of": moment.isoformat()}  # fmt: skip
    events = [NewEvent(PLAYBOOK_FIRED, fired, context.account_id)]
    for position, action in enumerate(playbook.actions):
        status, outcome, channel, notification = "done", "", None, None
        match action:
            case CreateTask():
                task = Task(
                    account_id=context.account_id, type=action.type,
                    title=action.title.format_map(fields)[:500], owner_role=action.owner_role,
                    owner=context.owner if action.owner_role == "csm" else None,
                    priority=action.priority, status=TaskStatus.OPEN,
                    due_on=moment.date() + timedelta(days=action.due_in_days),
                    escalation_level=0, playbook=playbook.name, firing_key=key, created_at=moment,
                )  # fmt: skip
                session.add(task)
                session.flush()
                totals["tasks"] += 1
                outcome = f"task {task.id}: {task.title}"
                events.append(NewEvent(TASK_CREATED, _task_payload(task), context.account_id))
            case SetFlag():
                session.merge(AccountFlag(account_id=context.account_id, flag=action.flag,
                                          value=action.value, set_by=f"playbook:{playbook.name}",
                                          set_at=moment))  # fmt: skip
                totals["flags"] += 1
                outcome = f"flag {action.flag} = {action.value}"
            case Escalate():
                moved = _escalate(session, context.account_id, policies, events)
                totals["escalated"] += moved
                outcome = f"escalated {moved} open tasks"
            case Notify():
                status, channel = "pending", action.channel
                notification = Notification(
                    idempotency_key=f"{key}:{position}", playbook=playbook.name,
                    account=context.account, account_name=context.name,
                    message=action.message.format_map(fields),
                    details={"reason": hit.reason, "tier": context.tier, "score": context.score,
                             **hit.details},
                ).as_json()  # fmt: skip
        session.add(PlaybookAction(firing_key=key, position=position, kind=action.kind,
                                   channel=channel, status=status, attempts=0,
                                   next_attempt_at=None, outcome=outcome or None,
                                   notification=notification, updated_at=now))  # fmt: skip
    append_events(session, events)


def _task_payload(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.id, "account_id": task.account_id, "type": task.type.value,
        "title": task.title, "owner_role": task.owner_role, "owner": task.owner,
        "priority": task.priority.value, "due_on": task.due_on.isoformat(),
        "playbook": task.playbook, "escalation_level": task.escalation_level,
    }  # fmt: skip


_PRIORITIES = list(TaskPriority)


def _escalate(session: Session, account_id: int, policies: Policies, events: list[NewEvent]) -> int:
    tasks = session.scalars(
        select(Task).where(Task.account_id == account_id, Task.status.in_(_OPEN)).order_by(Task.id)
    ).all()
    for task in tasks:
        task.owner_role = policies.playbooks.next_owner_role(task.owner_role)
        task.owner = None  # the role above picks it up
        task.priority = _PRIORITIES[min(_PRIORITIES.index(task.priority) + 1, len(_PRIORITIES) - 1)]
        task.escalation_level += 1
        events.append(NewEvent(TASK_ESCALATED, _task_payload(task), account_id))
    return len(tasks)


def deliver_pending(
    store: Store,
    *,
    policies: Policies | None = None,
    actions: ActionRegistry | None = None,
    now: datetime | None = None,
) -> Counter[str]:
    """Send the notifications waiting for delivery or a retry; record each outcome.

    Returns the count of ``sent`` and ``failed`` deliveries.
    """
    settings = policies or load_policies()
    registry = actions or installed_actions()
    moment = utc_moment(now, "now")
    counts: Counter[str] = Counter()
    with store.transaction() as session:
        due = session.execute(
            select(PlaybookAction.firing_key, PlaybookAction.position, PlaybookAction.channel,
                   PlaybookAction.notification, PlaybookAction.attempts)
            .where(PlaybookAction.status.in_(("pending", "retrying")),
                   (PlaybookAction.next_attempt_at.is_(None))
                   | (PlaybookAction.next_attempt_at <= moment))
            .order_by(PlaybookAction.firing_key, PlaybookAction.position)
        ).all()  # fmt: skip
    for key, position, channel_name, payload, attempts in due:
        outcome, status = _send(settings, registry, channel_name, payload)
        tries = attempts + 1
        if status == "failed" and tries < settings.playbooks.max_attempts:
            status = "retrying"
        wait = timedelta(minutes=settings.playbooks.retry_minutes * 2 ** (tries - 1))
        counts["sent" if status == "sent" else "failed"] += 1
        with store.transaction() as session:
            row = session.get_one(PlaybookAction, (key, position))
            row.status, row.attempts, row.outcome = status, tries, outcome[:1000]
            row.next_attempt_at = moment + wait if status == "retrying" else None
            row.updated_at = datetime.now(UTC)
    return counts


def _send(
    policies: Policies,
    registry: ActionRegistry,
    channel_name: str | None,
    payload: Mapping[str, Any] | None,
) -> tuple[str, str]:
    channel = policies.playbooks.channels.get(channel_name or "")
    if channel is None or payload is None:
        return f"no channel {channel_name!r} in the policies", "failed"
    notification = Notification(
        idempotency_key=payload["idempotency_key"], playbook=payload["playbook"],
        account=payload["account"], account_name=payload["account_name"],
        message=payload["message"], details=payload.get("details") or {},
    )  # fmt: skip
    try:
        receipt = registry.get(channel.action).send(notification, channel.options)
    except (ActionFailedError, ConfigurationError) as error:
        return str(error), "failed"
    return receipt, "sent"
