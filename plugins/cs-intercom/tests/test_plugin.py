"""The package as a plugin: found through its entry point, and written against cs-core's public
API only, as any third party's plugin must be."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import cs_core
import cs_intercom
from cs_core import connector_registry
from cs_intercom import IntercomConnector

PACKAGE = Path(cs_intercom.__file__).parent


def test_the_entry_point_registers_the_connector() -> None:
    (entry_point,) = [e for e in entry_points(group="cs") if e.name == "cs_intercom"]
    assert entry_point.value == "cs_intercom._plugin"
    assert entry_point.dist is not None
    assert entry_point.dist.name == "cs-intercom"
    registry = connector_registry()  # the installed plugins, loaded as `cs` loads them
    assert registry.get("intercom") is IntercomConnector
    assert registry.owners["intercom"] == "cs_intercom"


def test_a_disabled_plugin_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_DISABLE_PLUGINS", "cs_intercom")
    assert "intercom" not in connector_registry().connectors


def test_the_plugin_imports_only_what_cs_core_publishes() -> None:
    imported: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                private = [a.name for a in node.names if a.name.startswith("cs_core.")]
                assert not private, f"{path} imports {private}"
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                assert not node.module.startswith("cs_core."), f"{path} imports {node.module}"
                if node.module == "cs_core":
                    imported.update(alias.name for alias in node.names)
    assert "Connector" in imported  # the scan saw the plugin's imports
    unpublished = imported - set(cs_core.__all__)
    assert not unpublished, f"cs_intercom imports {unpublished}, not in cs_core.__all__"
