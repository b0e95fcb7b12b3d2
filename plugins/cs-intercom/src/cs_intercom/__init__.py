"""cs-intercom: Intercom companies, users and conversations synced into the Customer Success SDK.

Installed, it registers the connector ``intercom`` (``cs sync intercom``), configured by
``CS_INTERCOM_*`` environment variables. It is written as any third party's plugin would be:
against ``cs_core``'s public API only.
"""

from importlib.metadata import version as _version

from cs_intercom._connector import IntercomConnector
from cs_intercom._settings import IntercomSettings

__version__ = _version("cs-intercom")

__all__ = ["IntercomConnector", "IntercomSettings", "__version__"]
