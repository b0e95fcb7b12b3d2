"""The built-in connectors, registered through the same hook as any plugin's."""

from __future__ import annotations

from cs_connectors._analytics import AnalyticsConnector
from cs_connectors._files import FilesConnector
from cs_connectors._hubspot import HubSpotConnector
from cs_connectors._salesforce import SalesforceConnector
from cs_connectors._zendesk import ZendeskConnector
from cs_core import RegisterConnector, hookimpl

__all__ = ["cs_register_connectors"]


@hookimpl
def cs_register_connectors(register: RegisterConnector) -> None:
    """Register the built-in connectors: analytics, files, HubSpot, Salesforce, Zendesk."""
    register(AnalyticsConnector)
    register(FilesConnector)
    register(HubSpotConnector)
    register(SalesforceConnector)
    register(ZendeskConnector)
