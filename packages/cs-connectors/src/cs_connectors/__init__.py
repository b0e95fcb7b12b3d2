"""cs-connectors: the built-in connector plugins of the Customer Success SDK."""

from importlib.metadata import version as _version

__version__ = _version("cs-connectors")

__all__ = ["__version__"]
