"""cs-server: the GraphQL API and health-change subscriptions of the Customer Success SDK."""

from importlib.metadata import version as _version

__version__ = _version("cs-server")

__all__ = ["__version__"]
