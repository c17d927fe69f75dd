"""Who may do what through the API: roles read from the user, scopes read from the API key.

Staff are users with ``is_staff`` or the staff role; partners have the partner role; a user acts
for a contributor when ``user.contributor`` is set. Querysets are narrowed by role in the views,
so objects a user may not see answer 404, never 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from marketplace.models import ApiKey, Contributor, User


def is_staff(user: Any) -> bool:
    """Staff see and do everything in the API (``User.is_operator``)."""
    return bool(getattr(user, "is_authenticated", False) and user.is_operator)


def is_partner(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.role == User.Role.PARTNER)


def contributor_of(user: Any) -> Contributor | None:
    """The contributor a signed-in user acts for, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    contributor: Contributor | None = user.contributor
    return contributor


def sees_all_rounds(user: Any) -> bool:
    """Staff and partners see every round and every value; contributors only their own."""
    return is_staff(user) or is_partner(user)


class ActsForContributor(BasePermission):
    """Only an account that acts for a contributor can upload that contributor's data."""

    message = "Only an account that acts for a contributor can upload data."

    def has_permission(self, request: Request, view: Any) -> bool:
        return contributor_of(request.user) is not None


class CanWriteRounds(BasePermission):
    """Creating and starting rounds: staff, or a partner whose API key has ``rounds:write``.

    A partner signed in with a session (no key) cannot: the scope lives on the key.
    """

    message = (
        "Creating or starting rounds needs a staff account, or a partner API key with the "
        f"{ApiKey.ROUNDS_WRITE} scope."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        if is_staff(request.user):
            return True
        key = request.auth
        return (
            is_partner(request.user)
            and isinstance(key, ApiKey)
            and key.has_scope(ApiKey.ROUNDS_WRITE)
        )
