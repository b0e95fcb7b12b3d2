"""Scope checks: every query needs ``read``, every mutation ``write``, admin work ``admin``.

A caller without a token, or without the scope, gets a GraphQL error saying which scope the
field needs and changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from cs_core import Scope
from cs_server._context import Info

__all__ = ["CanAdmin", "CanRead", "CanWrite"]


def _message(scope: Scope) -> str:
    return (
        f"forbidden: this needs a token with the {scope.value!r} scope, sent as "
        "`Authorization: Bearer <token>` (create one with `cs token create`)"
    )


class _Needs(BasePermission):
    scope: ClassVar[Scope]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.allows(self.scope)


class CanRead(_Needs):
    scope = Scope.READ
    message = _message(Scope.READ)


class CanWrite(_Needs):
    scope = Scope.WRITE
    message = _message(Scope.WRITE)


class CanAdmin(_Needs):
    scope = Scope.ADMIN
    message = _message(Scope.ADMIN)
