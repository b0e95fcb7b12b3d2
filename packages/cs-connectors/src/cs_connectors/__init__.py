"""cs-connectors: the built-in connector plugins of the Customer Success SDK.

Each connector is registered through cs-core's ``cs_register_connectors`` hook from the ``cs``
entry point, exactly as a third party's would be, and depends on cs-core's public API only.
"""

from importlib.metadata import version as _version

from cs_connectors._analytics import (
    AnalyticsConnector,
    AnalyticsSettings,
    amplitude_to_segment,
    mixpanel_to_segment,
)
from cs_connectors._files import FilesConnector, FilesSettings
from cs_connectors._hubspot import HubSpotConnector, HubSpotSettings
from cs_connectors._salesforce import SalesforceConnector, SalesforceSettings
from cs_connectors._zendesk import ZendeskConnector, ZendeskSettings

__version__ = _version("cs-connectors")

__all__ = [
    "AnalyticsConnector",
    "AnalyticsSettings",
    "FilesConnector",
    "FilesSettings",
    "HubSpotConnector",
    "HubSpotSettings",
    "SalesforceConnector",
    "SalesforceSettings",
    "ZendeskConnector",
    "ZendeskSettings",
    "__version__",
    "amplitude_to_segment",
    "mixpanel_to_segment",
]
