"""What every resolver reaches through ``info.context``: the store, the caller, the loaders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from cs_core import Scope, Scorecard, Store, TokenInfo
from cs_server._background import BackgroundSyncs
from cs_server._loaders import Loaders
from cs_server._tail import OutboxTail

__all__ = ["Context", "Info"]


@dataclass
class Context:
    store: Store
    scorecards: Mapping[str, Scorecard]
    tail: OutboxTail
    syncs: BackgroundSyncs
    token: TokenInfo | None
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    connection_params: dict[str, Any] | None = None
    """What a websocket client sent with ``connection_init`` (its ``Authorization``)."""
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store)

    def allows(self, scope: Scope) -> bool:
        return self.token is not None and self.token.allows(scope)


Info: TypeAlias = strawberry.Info[Context, Any]
