"""Permission classes for the jobs API's actions: each names the permissions it needs in its refusal."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


def perms_required(*perms: str, doing: str) -> type[BasePermission]:
    """A permission class that lets through a user holding every one of `perms`; the 403 says what for."""

    class PermsRequired(BasePermission):
        message = f"You do not have permission to {doing} ({' and '.join(perms)})."

        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.has_perms(perms))

    PermsRequired.__name__ = f"Can{doing.title().replace(' ', '')}"
    return PermsRequired
