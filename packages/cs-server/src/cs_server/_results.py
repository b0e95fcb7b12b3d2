"""The typed errors mutations return as data: each names what went wrong and how to fix it.

A client matches them by ``__typename`` instead of parsing messages, and a mutation that
returns one has changed nothing.
"""

from __future__ import annotations

import strawberry

__all__ = [
    "AccountNotFound",
    "ConnectorNotConfigured",
    "ConnectorNotFound",
    "PlaybookNotFound",
    "Rejected",
    "TaskNotFound",
]


@strawberry.type(description="The account named does not exist.")
class AccountNotFound:
    message: str


@strawberry.type(description="The request cannot be done as asked: the message says why.")
class Rejected:
    message: str


@strawberry.type(description="The task named does not exist.")
class TaskNotFound:
    message: str


@strawberry.type(
    description="No installed playbook has that name; the message lists those that do."
)
class PlaybookNotFound:
    message: str


@strawberry.type(
    description="No installed connector has that name; the message lists those that do."
)
class ConnectorNotFound:
    message: str


@strawberry.type(
    description="The connector is installed but its settings (CS_<NAME>_* variables of the "
    "server) are missing or wrong; the message names them."
)
class ConnectorNotConfigured:
    message: str
