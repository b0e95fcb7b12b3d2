"""The Intercom connector: what ``cs sync intercom`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cs_core import Connector, ConnectorError, ConnectorSettings, Stream, TransientError
from cs_intercom._client import IntercomClient
from cs_intercom._companies import Companies
from cs_intercom._contacts import Contacts
from cs_intercom._conversations import Conversations
from cs_intercom._settings import IntercomSettings

__all__ = ["IntercomConnector"]


class IntercomConnector(Connector):
    """Companies, users and conversations from Intercom, as accounts, contacts and tickets."""

    name: ClassVar[str] = "intercom"
    settings_model: ClassVar[type[ConnectorSettings]] = IntercomSettings

    @property
    def intercom_settings(self) -> IntercomSettings:
        """The settings, typed: ``from_environment()`` reads them with ``settings_model``."""
        return self.settings_as(IntercomSettings)

    def check(self) -> None:
        """Ask Intercom who the token belongs to: the cheapest request that proves the address,
        the region and the token right."""
        settings = self.intercom_settings
        try:
            with IntercomClient(settings) as client:
                me = client.get("/me")
        except TransientError as error:
            raise ConnectorError(
                f"cannot reach Intercom: {error}. Check that CS_INTERCOM_BASE_URL "
                f"({settings.base_url}) is the workspace's API address, or try again later"
            ) from None
        if me.get("type") != "admin":
            raise ConnectorError(
                f"{settings.base_url}/me did not describe an Intercom admin: set "
                "CS_INTERCOM_BASE_URL to Intercom's API address, such as https://api.intercom.io"
            )

    def streams(self) -> Sequence[Stream]:
        """Companies first: users and conversations name the accounts they belong to."""
        settings = self.intercom_settings
        return [
            Companies(settings, self.name),
            Contacts(settings, self.name),
            Conversations(settings, self.name),
        ]
