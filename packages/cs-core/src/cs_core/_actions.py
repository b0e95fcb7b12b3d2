"""Notification actions: how a playbook reaches people and systems outside the store.

An action plugin has a ``name`` and a ``send(notification, options)`` method; plugins register
them through the ``cs_register_actions`` hook, and cs-core's three built-ins come through the
same hook: a signed webhook, a Slack-compatible incoming webhook, and e-mail over SMTP.

``options`` are the channel's settings from the policies (``[playbooks.channels.NAME]``).
Secrets never sit there: an option ending in ``_env`` names the environment variable that holds
the value, read when the action is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from functools import cache, partial
from typing import Any, Protocol, runtime_checkable

import httpx
import pluggy
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cs_core._errors import ConfigurationError, CSError
from cs_core._markers import RegisterAction, hookimpl
from cs_core._plugins import plugin_manager

__all__ = [
    "ActionFailedError",
    "ActionPlugin",
    "ActionRegistry",
    "EmailAction",
    "Notification",
    "SlackAction",
    "WebhookAction",
    "action_registry",
    "channel_option",
    "cs_register_actions",
    "installed_actions",
    "post_json",
    "sign",
]


@dataclass(frozen=True, slots=True)
class Notification:
    """What a playbook action sends."""

    idempotency_key: str
    """The same for every attempt at this action, so receivers can drop repeats."""
    playbook: str
    account: str
    """``source:external_id`` of the account."""
    account_name: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    """The trigger's facts: tier, score, the event or state that fired the playbook."""

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "playbook.notification",
            "idempotency_key": self.idempotency_key,
            "playbook": self.playbook,
            "account": self.account,
            "account_name": self.account_name,
            "message": self.message,
            "details": dict(self.details),
        }


class ActionFailedError(CSError):
    """An action could not be delivered; the engine records the reason and retries later."""


@runtime_checkable
class ActionPlugin(Protocol):
    """Delivers notifications of one kind (``name``: ``webhook``, ``slack``, ``email``…)."""

    name: str

    def send(self, notification: Notification, options: Mapping[str, Any]) -> str:
        """Deliver ``notification`` with the channel's ``options``; return a short receipt.

        Raise :class:`ActionFailedError` with a reason a person can act on when it fails.
        """
        ...


def channel_option(options: Mapping[str, Any], name: str, channel_kind: str) -> str:
    """The channel option ``name``, or the environment variable ``name_env`` names."""
    if name in options:
        return str(options[name])
    variable = options.get(f"{name}_env")
    if variable is None:
        raise ActionFailedError(f"{channel_kind} channel needs {name} or {name}_env in its options")
    value = os.environ.get(str(variable))
    if not value:
        raise ActionFailedError(f"{channel_kind} channel: set the environment variable {variable}")
    return value


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = parsedate_to_datetime(value)
        return max(0.0, moment.timestamp() - time.time())


def _wait(state: RetryCallState, *, backoff: wait_exponential_jitter, cap: float) -> float:
    """Back off exponentially with jitter, or as long as the server's Retry-After asks."""
    error = state.outcome.exception() if state.outcome else None
    asked = error.retry_after if isinstance(error, _Retryable) else None
    if asked is not None:
        return min(asked, cap)
    return float(backoff(state))


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    attempts: int = 3,
    timeout: float = 10.0,
    max_wait: float = 30.0,
) -> httpx.Response:
    """POST ``body``; retry connection errors, 429 and 5xx with backoff (honouring
    Retry-After); any other error status fails at once."""

    def attempt() -> httpx.Response:
        try:
            response = httpx.post(url, content=body, headers=dict(headers), timeout=timeout)
        except httpx.TransportError as error:
            raise _Retryable(f"could not reach {url}: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(
                f"{url} answered {response.status_code}", retry_after=_retry_after(response)
            )
        if response.status_code >= 400:
            raise ActionFailedError(
                f"{url} refused it: {response.status_code} {response.text[:200]}"
            )
        return response

    try:
        for attempted in Retrying(
            retry=retry_if_exception(lambda error: isinstance(error, _Retryable)),
            stop=stop_after_attempt(attempts),
            wait=partial(
                _wait, backoff=wait_exponential_jitter(multiplier=0.5, max=max_wait), cap=max_wait
            ),
            reraise=True,
        ):
            with attempted:
                return attempt()
    except _Retryable as error:
        raise ActionFailedError(f"{error} (after {attempts} attempts)") from error
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


class WebhookAction:
    """POSTs the notification as JSON, signed with HMAC-SHA256.

    Headers: ``X-CS-Timestamp`` (Unix seconds), ``X-CS-Signature`` (``sha256=`` and the hex
    HMAC of ``timestamp.body`` with the secret) and ``X-CS-Idempotency-Key``. Options: ``url`` or
    ``url_env``, ``secret_env`` (required), ``attempts`` (3), ``timeout`` seconds (10).
    """

    name = "webhook"

    def send(self, notification: Notification, options: Mapping[str, Any]) -> str:
        url = channel_option(options, "url", self.name)
        secret = channel_option(options, "secret", self.name)
        body = json.dumps(notification.as_json(), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        response = post_json(
            url,
            body,
            {
                "Content-Type": "application/json",
                "X-CS-Timestamp": timestamp,
                "X-CS-Signature": sign(secret, timestamp, body),
                "X-CS-Idempotency-Key": notification.idempotency_key,
            },
            attempts=int(options.get("attempts", 3)),
            timeout=float(options.get("timeout", 10)),
        )
        return f"{url} answered {response.status_code}"


class SlackAction:
    """Posts the message to a Slack-compatible incoming webhook (``{"text": …}``).

    Options: ``url`` or ``url_env``, ``attempts`` (3), ``timeout`` seconds (10).
    """

    name = "slack"

    def send(self, notification: Notification, options: Mapping[str, Any]) -> str:
        url = channel_option(options, "url", self.name)
        text = f"*{notification.account_name}* ({notification.playbook}): {notification.message}"
        response = post_json(
            url,
            json.dumps({"text": text}).encode(),
            {"Content-Type": "application/json"},
            attempts=int(options.get("attempts", 3)),
            timeout=float(options.get("timeout", 10)),
        )
        return f"slack webhook answered {response.status_code}"


class EmailAction:
    """Sends the message by e-mail over SMTP.

    Options: ``host``, ``port`` (587), ``from``, ``to`` (a list), ``starttls`` (true),
    ``username_env`` and ``password_env`` (optional), ``timeout`` seconds (10).
    """

    name = "email"

    def send(self, notification: Notification, options: Mapping[str, Any]) -> str:
        recipients = options.get("to")
        if not recipients or not isinstance(recipients, list | tuple):
            raise ActionFailedError("email channel needs `to`, a list of addresses")
        message = EmailMessage()
        message["Subject"] = f"[{notification.playbook}] {notification.account_name}"
        message["From"] = channel_option(options, "from", self.name)
        message["To"] = ", ".join(str(address) for address in recipients)
        message["X-CS-Idempotency-Key"] = notification.idempotency_key
        message.set_content(f"{notification.message}\n\nAccount: {notification.account}\n")
        host = channel_option(options, "host", self.name)
        port = int(options.get("port", 587))
        try:
            with smtplib.SMTP(host, port, timeout=float(options.get("timeout", 10))) as smtp:
                if options.get("starttls", True):
                    smtp.starttls()
                if "username_env" in options:
                    smtp.login(channel_option(options, "username", self.name),
                               channel_option(options, "password", self.name))  # fmt: skip
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise ActionFailedError(f"SMTP server {host}:{port}: {error}") from error
        return f"sent to {len(recipients)} recipients through {host}:{port}"


@hookimpl
def cs_register_actions(register: RegisterAction) -> None:
    """Register the built-in actions: webhook, slack and email."""
    register(WebhookAction())
    register(SlackAction())
    register(EmailAction())


@dataclass
class ActionRegistry:
    """Each action plugin by name, and the plugin that registered it."""

    actions: dict[str, ActionPlugin] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, plugin: str, action: object) -> None:
        """Add an action; a name another plugin registered already is an error."""
        if not isinstance(action, ActionPlugin) or not isinstance(action.name, str):
            raise ConfigurationError(
                f"plugin {plugin!r} registered {action!r}, which is not an action: it needs a "
                "`name` and a `send(notification, options)` method"
            )
        if action.name in self.owners:
            raise ConfigurationError(
                f"plugins {self.owners[action.name]!r} and {plugin!r} both register the action "
                f"{action.name!r}: disable one with CS_DISABLE_PLUGINS"
            )
        self.owners[action.name] = plugin
        self.actions[action.name] = action

    def get(self, name: str) -> ActionPlugin:
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions)) or "none"
            raise ConfigurationError(f"no action {name!r} is installed; known: {known}") from None


def action_registry(plugins: pluggy.PluginManager | None = None) -> ActionRegistry:
    """The actions that ``plugins`` (default: cs-core's and the installed plugins') register."""
    manager = plugins or plugin_manager()
    registry = ActionRegistry()
    for implementation in manager.hook.cs_register_actions.get_hookimpls():
        implementation.function(register=partial(registry.add, implementation.plugin_name))
    return registry


@cache
def installed_actions() -> ActionRegistry:
    """:func:`action_registry` of the installed plugins, computed once per process."""
    return action_registry()
