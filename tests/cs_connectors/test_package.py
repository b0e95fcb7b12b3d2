"""cs-connectors installs on its own and reaches cs-core through its public API only."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import requires
from pathlib import Path
from types import ModuleType

import cs_connectors


def test_it_is_typed_and_versioned() -> None:
    assert (Path(cs_connectors.__file__).parent / "py.typed").is_file()
    assert cs_connectors.__version__


def test_it_depends_on_cs_core() -> None:
    assert any(requirement.startswith("cs-core") for requirement in requires("cs-connectors") or [])


def test_it_uses_only_the_public_api_of_cs_core(
    assert_imports_only_public_cs_core: Callable[[ModuleType, str], None],
) -> None:
    assert_imports_only_public_cs_core(cs_connectors, "cs_server")
