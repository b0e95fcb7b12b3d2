"""Every routine task of the workspace: `uv run --only-group nox nox -s NAME`.

Each session syncs its own environment from `uv.lock`, so what passes here is what users get.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_external_run = True
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

ROOT = Path(__file__).parent
PACKAGE_TESTS = {
    "cs-core": "tests/cs_core",
    "cs-connectors": "tests/cs_connectors",
    "cs-server": "tests/cs_server",
    # A third party's plugin, tested on its own as its authors would.
    "cs-intercom": "plugins/cs-intercom/tests",
}


def sync(session: nox.Session, *arguments: str) -> None:
    """Install exactly the locked versions of what ``arguments`` select into the session."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--no-default-groups",
        *arguments,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


@nox.session
@nox.parametrize("package", [*PACKAGE_TESTS, "e2e"])
def tests(session: nox.Session, package: str) -> None:
    """One package's tests with only that package installed, so undeclared imports fail.

    ``e2e`` runs the end-to-end tests with every package. Set ``CS_TEST_POSTGRES_URL`` to run
    the store tests on PostgreSQL too.
    """
    if package == "e2e":
        sync(session, "--all-packages", "--group", "test")
        path = "tests/e2e"
    else:
        sync(session, "--package", package, "--group", "test")
        path = PACKAGE_TESTS[package]
    session.run("pytest", path, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package, the tests, the benchmarks and the docs' examples."""
    sync(session, "--all-packages", "--group", "typecheck")
    session.run("mypy", "packages", "plugins", "tests", "bench", "docs/examples", "noxfile.py")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation in strict mode: a broken link or reference fails."""
    sync(session, "--all-packages", "--group", "docs")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark in bench/; each prints one JSON object as its last line."""
    sync(session, "--all-packages")
    for script in sorted((ROOT / "bench").glob("*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The product: `cs demo` on the SQLite default (arguments pass through)."""
    sync(session, "--all-packages")
    session.run("cs", "demo", *session.posargs)
