"""A plugin that adds the connector `status-page`: incidents from a status page's JSON feed."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from cs_core import (
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    CursorTracker,
    PageGuard,
    RegisterConnector,
    Stream,
    StreamItem,
    TicketRecord,
    TransientError,
    hookimpl,
)


class StatusPageSettings(ConnectorSettings):
    """CS_STATUS_PAGE_URL and CS_STATUS_PAGE_TOKEN."""

    url: str
    token: SecretStr


class Incidents(Stream):
    name: ClassVar[str] = "incidents"

    def __init__(self, settings: StatusPageSettings) -> None:
        self.settings = settings

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)  # ">= cursor", ties dropped as seen
        since = cursor.value or ""  # fixed for the whole read, so that pages stay stable
        guard = PageGuard("status page incidents")
        page: str | None = "1"
        while page is not None:
            try:
                response = httpx.get(
                    self.settings.url,
                    params={"updated_since": since, "page": guard.next(page)},
                    headers={"Authorization": f"Bearer {self.settings.token.get_secret_value()}"},
                )
            except httpx.TransportError as error:
                raise TransientError(f"status page unreachable: {error}") from error
            if response.status_code == 429 or response.status_code >= 500:
                retry = response.headers.get("Retry-After")
                raise TransientError(f"status page answered {response.status_code}",
                                     retry_after=float(retry) if retry else None)  # fmt: skip
            body = response.json()
            for incident in body["incidents"]:
                if cursor.is_new(incident["updated_at"], incident["id"]):
                    yield Candidate(TicketRecord, {
                        "source": "status-page", "external_id": incident["id"],
                        "account_external_id": incident["customer"], "account_source": "crm",
                        "subject": incident["title"], "priority": incident["impact"],
                        "status": incident["state"],
                        "opened_at": datetime.fromisoformat(incident["started_at"]),
                    }, incident)  # fmt: skip
            yield Checkpoint(cursor.state)  # committed with the page's records
            page = body.get("next_page")


class StatusPageConnector(Connector):
    """Incidents from a status page, as tickets of the customers they hit."""

    name: ClassVar[str] = "status-page"
    settings_model: ClassVar[type[ConnectorSettings]] = StatusPageSettings

    def check(self) -> None:
        if not self.settings_as(StatusPageSettings).url.startswith("https://"):
            raise ConnectorError("CS_STATUS_PAGE_URL must be an https:// address")

    def streams(self) -> Sequence[Stream]:
        return [Incidents(self.settings_as(StatusPageSettings))]


@hookimpl
def cs_register_connectors(register: RegisterConnector) -> None:
    register(StatusPageConnector)
