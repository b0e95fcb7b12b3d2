"""Notification actions against real local servers: a signed webhook, Slack, SMTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cs_core import (
    ActionFailedError,
    ConfigurationError,
    EmailAction,
    Notification,
    SlackAction,
    WebhookAction,
    action_registry,
    hookimpl,
    plugin_manager,
)

NOTE = Notification(
    idempotency_key="red-save:7:event:42:3", playbook="red-save", account="crm:A",
    account_name="Acme", message="Acme went Red", details={"tier": "Red", "score": 41.0},
)  # fmt: skip


@dataclass
class Receiver:
    """A local HTTP server answering with the queued statuses, then 200; it keeps each request."""

    url: str
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = state.statuses.pop(0) if state.statuses else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the requests instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_the_webhook_is_signed_over_timestamp_and_body(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    receipt = WebhookAction().send(NOTE, {"url": receiver.url, "secret_env": "HOOK_SECRET"})
    assert receipt == f"{receiver.url} answered 200"
    ((headers, body),) = receiver.requests
    expected = hmac.new(b"s3cret", headers["x-cs-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["x-cs-signature"] == f"sha256={expected}"
    assert headers["x-cs-idempotency-key"] == "red-save:7:event:42:3"
    assert json.loads(body)["message"] == "Acme went Red"
    assert json.loads(body)["details"] == {"tier": "Red", "score": 41.0}


def test_a_webhook_retries_5xx_and_429_honouring_retry_after(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    receiver.statuses = [(503, {}), (429, {"Retry-After": "0"})]
    WebhookAction().send(NOTE, {"url": receiver.url, "secret_env": "HOOK_SECRET", "attempts": 3})
    assert len(receiver.requests) == 3
    # Every attempt carries the same idempotency key, so the receiver can drop repeats.
    assert {headers["x-cs-idempotency-key"] for headers, _ in receiver.requests} == {
        NOTE.idempotency_key
    }


def test_a_webhook_gives_up_with_the_reason(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    receiver.statuses = [(503, {"Retry-After": "0"})] * 2
    options = {"url": receiver.url, "secret_env": "HOOK_SECRET", "attempts": 2}
    with pytest.raises(ActionFailedError, match=r"answered 503 \(after 2 attempts\)"):
        WebhookAction().send(NOTE, options)
    receiver.statuses = [(400, {})]
    with pytest.raises(ActionFailedError, match="refused it: 400"):
        WebhookAction().send(NOTE, options)
    assert len(receiver.requests) == 3  # a 400 is not retried


def test_a_missing_secret_names_the_variable(receiver: Receiver) -> None:
    with pytest.raises(ActionFailedError, match="set the environment variable NOT_SET_ANYWHERE"):
        WebhookAction().send(NOTE, {"url": receiver.url, "secret_env": "NOT_SET_ANYWHERE"})
    with pytest.raises(ActionFailedError, match="webhook channel needs secret or secret_env"):
        WebhookAction().send(NOTE, {"url": receiver.url})


def test_an_unreachable_webhook_fails_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    options = {"url": "http://127.0.0.1:9/none", "secret_env": "HOOK_SECRET", "attempts": 1}
    with pytest.raises(ActionFailedError, match=r"could not reach .* \(after 1 attempts\)"):
        WebhookAction().send(NOTE, options)


def test_slack_gets_the_text(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_URL", receiver.url)
    SlackAction().send(NOTE, {"url_env": "SLACK_URL"})
    ((_, body),) = receiver.requests
    assert json.loads(body) == {"text": "*Acme* (red-save): Acme went Red"}


def test_email_over_smtp() -> None:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        receipt = EmailAction().send(
            NOTE, {"host": "127.0.0.1", "port": port, "starttls": False,
                   "from": "cs@example.com", "to": ["ann@example.com", "bob@example.com"]},
        )  # fmt: skip
    finally:
        controller.stop()
    assert receipt == f"sent to 2 recipients through 127.0.0.1:{port}"
    (envelope,) = received
    assert envelope.rcpt_tos == ["ann@example.com", "bob@example.com"]
    content = envelope.content.decode()
    assert "Subject: [red-save] Acme" in content
    assert "Acme went Red" in content


def test_email_to_nobody_is_refused() -> None:
    with pytest.raises(ActionFailedError, match="email channel needs `to`"):
        EmailAction().send(NOTE, {"host": "127.0.0.1", "from": "cs@example.com"})


class Pager:
    name = "pager"

    def send(self, notification: Notification, options: Any) -> str:
        return f"paged {options['team']}"


class _PagerPlugin:
    @hookimpl
    def cs_register_actions(self, register: Any) -> None:
        register(Pager())


class _AnotherWebhook:
    @hookimpl
    def cs_register_actions(self, register: Any) -> None:
        register(WebhookAction())


class _NotAnAction:
    @hookimpl
    def cs_register_actions(self, register: Any) -> None:
        register(object())


def test_plugins_add_actions_through_the_hook() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(_PagerPlugin(), name="pager-plugin")
    registry = action_registry(manager)
    assert sorted(registry.actions) == ["email", "pager", "slack", "webhook"]
    assert registry.owners["pager"] == "pager-plugin"
    assert registry.get("pager").send(NOTE, {"team": "cs"}) == "paged cs"
    with pytest.raises(ConfigurationError, match="no action 'fax' is installed; known: email"):
        registry.get("fax")


def test_clashing_and_malformed_actions_name_the_plugin() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(_AnotherWebhook(), name="other")
    with pytest.raises(ConfigurationError, match=r"'cs_core\.actions' and 'other' both register"):
        action_registry(manager)
    manager = plugin_manager(load_entry_points=False)
    manager.register(_NotAnAction(), name="broken")
    with pytest.raises(ConfigurationError, match=r"plugin 'broken' registered .* not an action"):
        action_registry(manager)


def test_the_docs_action_plugin_example_posts_to_teams(
    receiver: Receiver, docs_example: Callable[[str], ModuleType]
) -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(docs_example("action_plugin.py"), name="teams-plugin")
    teams = action_registry(manager).get("teams")
    assert teams.send(NOTE, {"url": receiver.url}) == "Teams answered 200"
    ((_, body),) = receiver.requests
    assert json.loads(body) == {"title": "Acme: red-save", "text": "Acme went Red"}
