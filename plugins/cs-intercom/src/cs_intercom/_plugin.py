"""The plugin module: cs imports it through the ``cs`` entry point that pyproject.toml declares,
and calls its hook implementations."""

from __future__ import annotations

from cs_core import RegisterConnector, hookimpl
from cs_intercom._connector import IntercomConnector

__all__ = ["cs_register_connectors"]


@hookimpl
def cs_register_connectors(register: RegisterConnector) -> None:
    """Make ``cs sync intercom`` run :class:`IntercomConnector`."""
    register(IntercomConnector)
