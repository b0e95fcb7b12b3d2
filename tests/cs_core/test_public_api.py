"""The public API is what ``__all__`` says, and the docs cover every hook."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import cs_core

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_exists_and_is_documented() -> None:
    for name in cs_core.__all__:
        value = getattr(cs_core, name)
        if isinstance(value, type) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"cs_core.{name} has no docstring"


def test_the_docs_describe_every_hook() -> None:
    hooks = sorted(name for name in vars(cs_core.HookSpecs) if name.startswith("cs_"))
    assert hooks, "HookSpecs defines no hooks"
    page = (ROOT / "docs" / "plugins.md").read_text()
    missing = [hook for hook in hooks if f"## `{hook}" not in page]
    assert not missing, f"docs/plugins.md has no section for: {', '.join(missing)}"


def test_cs_core_imports_neither_connectors_nor_server(
    package_imports: Callable[[ModuleType], Iterator[tuple[Path, str]]],
) -> None:
    for path, module in package_imports(cs_core):
        assert not module.startswith(("cs_connectors", "cs_server")), f"{path} imports {module}"


def test_the_scoring_page_lists_every_builtin_metric() -> None:
    page = (ROOT / "docs" / "scoring.md").read_text()
    missing = [m.name for m in cs_core.BUILTIN_METRICS if f"| `{m.name}` |" not in page]
    assert not missing, f"docs/scoring.md does not list: {', '.join(missing)}"
