"""The ASGI application: GraphQL (with GraphiQL), a Segment-compatible tracking endpoint,
health and readiness probes, Prometheus metrics.

Every GraphQL request is authenticated by its bearer token (websockets: the ``Authorization``
connection parameter); documents are bounded in depth, aliases and tokens before they run;
errors from inside resolvers reach clients as "internal error" while the log keeps them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from anyio import to_thread
from graphql import Executor, GraphQLError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET, UnsetType

from cs_core import CSError, Store, TokenInfo, builtin_scorecards
from cs_server._background import BackgroundSyncs
from cs_server._context import Context
from cs_server._ingest import SegmentEndpoint
from cs_server._rescorer import Rescorer
from cs_server._schema import Mutation, Query, Subscription
from cs_server._settings import ServerSettings
from cs_server._tail import OutboxTail
from cs_server._tokens import TokenVerifier

__all__ = ["PerEventExecutor", "create_app", "schema"]

log = structlog.get_logger("cs_server")


def _expected(error: GraphQLError) -> bool:
    """Errors that are the caller's to fix (bad input, a missing scope), not bugs: shown to the
    client as they are and not logged as failures."""
    original = error.original_error
    return original is None or isinstance(original, CSError | GraphQLError)


class _Schema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not _expected(error):
                log.error("resolver failed", error=str(error), path=error.path,
                          exc_info=error.original_error)  # fmt: skip


class PerEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with a memo of its own for each subscription event.

    graphql-core 3.3 builds each event's executor as a shallow copy of the subscription's, so
    all of them share one memo of collected subfields; every event's fields are new lists, so
    the memo gains entries per event and keeps them while the subscription lasts (~1.2 KiB per
    subscriber per event, measured by bench/server.py).
    """

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def schema(settings: ServerSettings | None = None) -> Schema:
    """The GraphQL schema, with the limits of ``settings``."""
    chosen = settings or ServerSettings.from_environment()
    limits = [
        *QueryDepthLimiter(max_depth=chosen.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=chosen.max_aliases).validation_rules,
    ]
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=PerEventExecutor,
        # Factories: each request gets fresh extension instances (the caches are shared). The
        # limits' rule classes are built once: they are part of the validation cache's key.
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=chosen.max_tokens),
            lambda: AddValidationRules(limits),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: MaskErrors(
                should_mask_error=lambda error: not _expected(error),
                error_message="internal error",
            ),
        ],
    )


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    kind, _, secret = header.partition(" ")
    return secret.strip() if kind.lower() == "bearer" and secret.strip() else None


class _GraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        store: Store,
        settings: ServerSettings,
        tail: OutboxTail,
        tokens: TokenVerifier,
        syncs: BackgroundSyncs,
    ) -> None:
        super().__init__(schema(settings), subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        self.store = store
        self.tail = tail
        self.tokens = tokens
        self.syncs = syncs
        self.scorecards = builtin_scorecards()

    async def _token(self, secret: str | None) -> TokenInfo | None:
        return None if secret is None else await self.tokens.verify(secret)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        token = await self._token(_bearer(request.headers.get("authorization")))
        return Context(self.store, self.scorecards, self.tail, self.syncs, token, request,
                       response)  # fmt: skip

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Websocket clients authenticate in ``connection_init``: ``{"Authorization": "Bearer
        <token>"}``; a bad token closes the connection (4403) before any subscription."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is not None:
            context.token = await self._token(_bearer(str(header)))
            if context.token is None:
                raise ConnectionRejectionError({"message": "unknown or revoked token"})
        unset: UnsetType = UNSET
        return unset


class _Observed:
    """ASGI middleware: counts and times HTTP requests, and logs each as one structured line."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("cs_http_requests", "HTTP requests served",
                                ["path", "status"], registry=registry)  # fmt: skip
        self.latency = Histogram("cs_http_request_seconds", "HTTP request latency",
                                 ["path"], registry=registry)  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = time.perf_counter() - began
            path = scope["path"]
            self.requests.labels(path, str(status)).inc()
            self.latency.labels(path).observe(elapsed)
            log.info("request", method=scope["method"], path=path, status=status,
                     ms=round(elapsed * 1000, 2))  # fmt: skip


class _Subscriptions(Collector):
    """Open subscriptions and events delivered, read from the tail when scraped."""

    def __init__(self, tail: OutboxTail) -> None:
        self.tail = tail

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("cs_subscriptions_open", "Subscriptions open in this process",
                                value=self.tail.subscribers)  # fmt: skip
        yield CounterMetricFamily("cs_subscription_events_delivered",
                                  "Events delivered to subscribers by this process",
                                  value=self.tail.delivered)  # fmt: skip


def create_app(store: Store | None = None, settings: ServerSettings | None = None) -> Starlette:
    """The server's ASGI application over ``store`` (default: cs-core's configured store)."""
    chosen = settings or ServerSettings.from_environment()
    served = store or Store()
    tail = OutboxTail(served, poll_interval=chosen.poll_interval)
    rescorer = Rescorer(served, delay=chosen.rescore_delay)
    tokens = TokenVerifier(served, chosen.token_cache_seconds)
    syncs = BackgroundSyncs()
    graphql = _GraphQL(served, chosen, tail, tokens, syncs)
    registry = CollectorRegistry()
    registry.register(_Subscriptions(tail))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await tail.start()
        await rescorer.start()
        try:
            yield
        finally:
            await syncs.wait()
            await rescorer.stop()
            await tail.stop()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await to_thread.run_sync(served.check_ready)
        except CSError as error:
            return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            Route(
                "/v1/{kind}",
                SegmentEndpoint(served, rescorer, tokens, chosen.segment_account_source).handle,
                methods=["POST"],
            ),
        ],
        middleware=[
            Middleware(_Observed, registry=registry),
            Middleware(
                CORSMiddleware,
                allow_origins=chosen.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            ),
        ],
    )
    app.state.store = served
    return app
