"""A plugin that adds the action `teams`: a Microsoft Teams incoming webhook."""

import json
from collections.abc import Mapping
from typing import Any

from cs_core import Notification, RegisterAction, channel_option, hookimpl, post_json


class TeamsAction:
    name = "teams"

    def send(self, notification: Notification, options: Mapping[str, Any]) -> str:
        url = channel_option(options, "url", self.name)  # or url_env, read when sending
        card = {"title": f"{notification.account_name}: {notification.playbook}",
                "text": notification.message}  # fmt: skip
        # Retries connection errors, 429 and 5xx with backoff; raises ActionFailedError.
        response = post_json(url, json.dumps(card).encode(), {"Content-Type": "application/json"})
        return f"Teams answered {response.status_code}"


@hookimpl
def cs_register_actions(register: RegisterAction) -> None:
    register(TeamsAction())
