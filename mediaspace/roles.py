"""The role ladder. Every role check in the portal goes through `has_role`."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from .conf import setting


class Role(models.TextChoices):
    """Lowest first: the order of definition is the ladder."""

    ANONYMOUS = "anonymousRole", _("anonymousRole: not signed in")
    VIEWER = "viewerRole", _("viewerRole: may only watch")
    PRIVATE_ONLY = "privateOnlyRole", _("privateOnlyRole: may own and upload entries, not publish")
    ADMIN = "adminRole", _("adminRole: may publish to categories (moderated)")
    UNMODERATED_ADMIN = "unmoderatedAdminRole", _("unmoderatedAdminRole: publishes without moderation")


# The name of the user's relation to their stored role (`UserRole.user`'s related_name).
ROLE_RELATION = "portal_role"

LADDER = list(Role)
SIGNED_IN_ROLES = [(role.value, role.label) for role in LADDER if role != Role.ANONYMOUS]


def rank(role) -> int:
    return LADDER.index(Role(role))


def default_role() -> Role:
    return Role(setting("MEDIASPACE_DEFAULT_ROLE"))


def role_of(user) -> Role:
    """The user's role; remembered on the user object for the rest of the request.

    Read through the user's relation to their stored role, not its model, so that this module needs
    nothing above it: models.py and modules.py import the ladder, never the other way round. A fresh
    query, not the relation's cache, because the row may have changed since the user object was loaded.
    """
    if user is None or not user.is_authenticated:
        return Role.ANONYMOUS
    cached = getattr(user, "_mediaspace_role", None)
    if cached is None:
        users = user._meta.model._base_manager.filter(pk=user.pk)
        stored = users.values_list(f"{ROLE_RELATION}__role", flat=True).first()
        cached = user._mediaspace_role = Role(stored) if stored else default_role()
    return cached


def has_role(user, minimum) -> bool:
    """Does this user have at least the role `minimum` ("that role and every role above it")?"""
    return rank(role_of(user)) >= rank(minimum)
