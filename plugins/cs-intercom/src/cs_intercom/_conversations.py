"""The ``conversations`` stream: Intercom conversations as support tickets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from cs_core import (
    Candidate,
    TicketChannel,
    TicketPriority,
    TicketRecord,
    TicketSatisfaction,
    TicketStatus,
)
from cs_intercom._client import IntercomClient, IntercomRequestError
from cs_intercom._contacts import first_company_id
from cs_intercom._json import as_mapping
from cs_intercom._search import SearchStream
from cs_intercom._settings import IntercomSettings

__all__ = ["Conversations", "Requester", "ticket_fields"]

PRIORITIES = {"priority": TicketPriority.P2, "not_priority": TicketPriority.P3}
"""Intercom marks a conversation as a priority or not: P2 or P3 (P1 is left for incidents)."""
STATUSES = {
    "open": TicketStatus.OPEN,
    "snoozed": TicketStatus.ON_HOLD,
    "closed": TicketStatus.CLOSED,
}
CHANNELS = {
    "conversation": TicketChannel.CHAT,  # the Messenger
    "email": TicketChannel.EMAIL,
    "phone_call": TicketChannel.PHONE,
    "phone_switch": TicketChannel.PHONE,
}
"""Where a conversation started (``source.type``); the social and SMS channels are ``other``."""
SUBJECT_LENGTH = 500
"""The longest subject a ticket keeps."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who opened a conversation, as far as it ties the ticket to a customer."""

    company_id: str | None = None
    email: str | None = None


class Conversations(SearchStream):
    """Conversations changed since the last sync, each tied to its contact's first company."""

    name: ClassVar[str] = "conversations"
    path: ClassVar[str] = "/conversations/search"
    results: ClassVar[str] = "conversations"
    resolution: ClassVar[int] = 1

    def __init__(self, settings: IntercomSettings, source: str) -> None:
        super().__init__(settings, source)
        self._requesters: dict[str, Requester] = {}
        """Per contact id: a sync asks Intercom about each contact once."""

    def candidate(self, record: Mapping[str, Any], client: IntercomClient) -> Candidate:
        fields = ticket_fields(record, self._requester(record, client), self.source)
        return Candidate(TicketRecord, fields, record)

    def _requester(self, conversation: Mapping[str, Any], client: IntercomClient) -> Requester:
        """The conversation's first contact, fetched: a search result names contacts by id
        only, and the contact's companies are what tie the ticket to an account."""
        contacts = as_mapping(conversation.get("contacts")).get("contacts")
        if not isinstance(contacts, list) or not contacts:
            return Requester()
        contact_id = as_mapping(contacts[0]).get("id")
        if not isinstance(contact_id, str):
            return Requester()
        if contact_id not in self._requesters:
            try:
                contact = client.get(f"/contacts/{contact_id}")
            except IntercomRequestError as error:
                if error.status != 404:
                    raise
                contact = {}  # deleted or merged since: the ticket is tied by nothing
            email = contact.get("email")
            self._requesters[contact_id] = Requester(
                first_company_id(contact), email if isinstance(email, str) and email else None
            )
        return self._requesters[contact_id]


def ticket_fields(
    conversation: Mapping[str, Any], requester: Requester, source: str
) -> dict[str, Any]:
    """The ticket fields of an Intercom conversation.

    Times are Intercom's Unix seconds, which validation reads as UTC. The first reply and the
    resolution come from the conversation's statistics; a conversation closed and reopened
    since is not solved. A priority or state this connector does not know is passed as it came,
    for validation to refuse and the engine to quarantine.
    """
    statistics = as_mapping(conversation.get("statistics"))
    origin = as_mapping(conversation.get("source"))
    priority, state = conversation.get("priority"), conversation.get("state")
    fields = {
        "source": source,
        "external_id": conversation.get("id"),
        "account_external_id": requester.company_id,
        "requester_email": requester.email,
        "subject": _subject(conversation, origin),
        "priority": PRIORITIES.get(priority, priority) if isinstance(priority, str) else priority,
        "status": STATUSES.get(state, state) if isinstance(state, str) else state,
        "channel": CHANNELS.get(str(origin.get("type")), TicketChannel.OTHER),
        "opened_at": conversation.get("created_at"),
        "first_response_at": statistics.get("first_admin_reply_at"),
        "solved_at": statistics.get("last_close_at") if state == "closed" else None,
        "satisfaction": _satisfaction(conversation.get("conversation_rating")),
        "replies": _team_replies(statistics),
    }
    return {name: value for name, value in fields.items() if value is not None}


def _subject(conversation: Mapping[str, Any], origin: Mapping[str, Any]) -> str:
    """The conversation's title or, for an e-mail, its subject; cut to what a ticket keeps
    rather than refusing the ticket for a long subject."""
    for subject in (conversation.get("title"), origin.get("subject")):
        if isinstance(subject, str) and subject.strip():
            return subject.strip()[:SUBJECT_LENGTH]
    return ""


def _satisfaction(rating: object) -> TicketSatisfaction | None:
    """A 1-5 conversation rating as good (4, 5) or bad (1, 2); a 3, or no rating, is neither."""
    score = as_mapping(rating).get("rating")
    if not isinstance(score, int):
        return None
    if score >= 4:
        return TicketSatisfaction.GOOD
    return TicketSatisfaction.BAD if score <= 2 else None


def _team_replies(statistics: Mapping[str, Any]) -> int | None:
    """The replies the team sent, as far as Intercom's statistics tell.

    Intercom counts conversation parts (notes, assignments and the customer's messages among
    them), not replies. Its first and last reply times tell none, one, or several; several is
    counted as two, the fewest it can be, which keeps first-contact resolution (one reply at
    most) exact.
    """
    if not statistics:
        return None
    first, last = statistics.get("first_admin_reply_at"), statistics.get("last_admin_reply_at")
    if first is None:
        return 0
    return 1 if first == last else 2
