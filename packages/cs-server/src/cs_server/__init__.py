"""cs-server: the GraphQL API and health-change subscriptions of the Customer Success SDK."""

from importlib.metadata import version as _version

from cs_server._app import create_app, schema
from cs_server._settings import ServerSettings

__version__ = _version("cs-server")

__all__ = ["ServerSettings", "__version__", "create_app", "schema"]
