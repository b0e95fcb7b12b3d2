"""cs-connectors installs on its own and reaches cs-core through its public API only."""

from __future__ import annotations

import ast
from importlib.metadata import requires
from pathlib import Path

import cs_connectors


def test_it_is_typed_and_versioned() -> None:
    package = Path(cs_connectors.__file__).parent
    assert (package / "py.typed").is_file()
    assert cs_connectors.__version__


def test_it_depends_on_cs_core() -> None:
    assert any(requirement.startswith("cs-core") for requirement in requires("cs-connectors") or [])


def test_it_uses_only_the_public_api_of_cs_core() -> None:
    package = Path(cs_connectors.__file__).parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("cs_core."), f"{path} imports {node.module}"
                assert not node.module.startswith("cs_server"), f"{path} imports {node.module}"
