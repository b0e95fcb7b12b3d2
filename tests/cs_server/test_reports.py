"""KPIs, portfolios and tasks over HTTP, each equal to cs-core's own report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from cs_core import (
    KpiReport,
    Period,
    Store,
    Task,
    TaskStatus,
    complete_task,
    compute_kpis,
    kpis_by,
    list_tasks,
    portfolio,
    run_playbooks,
)

from .conftest import AS_OF, Api, global_id

KPIS = """
query Kpis($period: String!, $by: KpiBreakdown, $segment: Segment) {
  kpis(period: $period, by: $by, segment: $segment) {
    period start end segment owner startingAccounts startingArr endingArr churnedAccounts grr nrr
    renewalsDue renewalRate expansionRate averageExpansion adoption
    healthDistribution { tier accounts } nps npsResponses csat firstResponseHours
    resolutionHours firstContactResolution } }
"""


def _kpis(report: KpiReport) -> dict[str, Any]:
    return {
        "period": report.period,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "segment": report.segment and report.segment.upper(),
        "owner": report.owner,
        "startingAccounts": report.starting_accounts,
        "startingArr": str(report.starting_arr),
        "endingArr": str(report.ending_arr),
        "churnedAccounts": report.churned_accounts,
        "grr": report.grr,
        "nrr": report.nrr,
        "renewalsDue": report.renewals_due,
        "renewalRate": report.renewal_rate,
        "expansionRate": report.expansion_rate,
        "averageExpansion": report.average_expansion and str(report.average_expansion),
        "adoption": report.adoption,
        "healthDistribution": [
            {"tier": tier, "accounts": count}
            for tier, count in sorted(report.health_distribution.items())
        ],
        "nps": report.nps,
        "npsResponses": report.nps_responses,
        "csat": report.csat,
        "firstResponseHours": report.first_response_hours,
        "resolutionHours": report.resolution_hours,
        "firstContactResolution": report.first_contact_resolution,
    }


def test_kpis_whole_and_broken_down_and_each_csm_portfolio(api: Api, demo_store: Store) -> None:
    quarter = Period.parse("2026-Q3")
    whole = api(KPIS, {"period": "2026-Q3"})["data"]["kpis"]
    assert whole == [_kpis(compute_kpis(demo_store, quarter))]
    assert whole[0]["startingAccounts"] > 0
    by_segment = api(KPIS, {"period": "2026-Q3", "by": "SEGMENT"})["data"]["kpis"]
    assert by_segment == [_kpis(report) for report in kpis_by(demo_store, quarter, "segment")]
    assert len(by_segment) == 4
    smb_owners = api(KPIS, {"period": "2026-10", "by": "OWNER", "segment": "SMB"})["data"]["kpis"]
    assert smb_owners == [
        _kpis(report)
        for report in kpis_by(demo_store, Period.parse("2026-10"), "owner", segment="smb")
    ]
    assert {report["segment"] for report in smb_owners} == {"SMB"}
    wrong = api(KPIS, {"period": "2026-Q5"})
    assert wrong["data"] is None
    assert wrong["errors"][0]["message"].startswith("period '2026-Q5' is not a period")

    moment = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
    query = """query($asOf: DateTime) { portfolio(asOf: $asOf) { owner accounts arr atRisk
                 openSignals escalatedTickets renewalsNext90Days openTasks workload } }"""
    found = api(query, {"asOf": moment.isoformat()})["data"]["portfolio"]
    assert found == [
        {
            "owner": row.owner,
            "accounts": row.accounts,
            "arr": str(row.arr),
            "atRisk": row.at_risk,
            "openSignals": row.open_signals,
            "escalatedTickets": row.escalated_tickets,
            "renewalsNext90Days": row.renewals_next_90_days,
            "openTasks": row.open_tasks,
            "workload": row.workload,
        }
        for row in portfolio(demo_store, as_of=moment)
    ]
    assert sum(row["accounts"] for row in found) > 0
    naive = api(query, {"asOf": "2026-11-02T00:00:00"})
    assert "has no timezone" in naive["errors"][0]["message"]


TASKS = """
query Tasks($first: Int!, $after: String, $filter: TaskFilter) {
  tasks(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id title owner status dueOn account { id name } } } } }
"""


def _all_tasks(api: Api, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every task the filter matches, walking pages of 25."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = api(TASKS, {"first": 25, "after": after, "filter": where})["data"]["tasks"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(found)
            return found
        after = page["pageInfo"]["endCursor"]


def test_tasks_a_page_at_a_time_with_filters(api: Api, demo_store: Store) -> None:
    run_playbooks(demo_store)
    walked = _all_tasks(api)
    everything = list_tasks(demo_store)
    assert [task["id"] for task in walked] == [global_id("Task", row.id) for row in everything]
    assert len(walked) > 25
    first = everything[0]
    assert walked[0]["account"]["id"] == global_id("Account", first.account_id)
    owner = next(row.owner for row in everything if row.owner is not None)
    assert [task["id"] for task in _all_tasks(api, {"owner": owner})] == [
        global_id("Task", row.id) for row in list_tasks(demo_store, owner=owner)
    ]
    account = global_id("Account", first.account_id)
    assert [task["id"] for task in _all_tasks(api, {"accountId": account})] == [
        global_id("Task", row.id) for row in list_tasks(demo_store, account_id=first.account_id)
    ]
    assert _all_tasks(api, {"status": ["DONE"]}) == []
    complete_task(demo_store, first.id, by="ann")
    done = _all_tasks(api, {"status": ["DONE"]})
    assert [(task["id"], task["status"]) for task in done] == [
        (global_id("Task", first.id), "DONE")
    ]
    with demo_store.transaction() as session:
        still_open = session.scalar(
            select(func.count()).select_from(Task).where(Task.status != TaskStatus.DONE)
        )
    assert len(_all_tasks(api)) == still_open
    bad = api(TASKS, {"first": 5, "after": "nonsense"})
    assert "is not a cursor of this connection" in bad["errors"][0]["message"]
