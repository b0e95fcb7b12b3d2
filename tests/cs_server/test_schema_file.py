"""The committed SDL file is the schema the code builds: clients generate code from it."""

from __future__ import annotations

from pathlib import Path

import cs_server

SDL = Path(__file__).parents[2] / "packages" / "cs-server" / "schema.graphql"


def test_the_sdl_file_matches_the_code() -> None:
    assert SDL.read_text() == cs_server.schema().as_str() + "\n", (
        "the schema changed: run `cs schema > packages/cs-server/schema.graphql` and commit it"
    )
