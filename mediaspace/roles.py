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


LADDER = list(Role)
SIGNED_IN_ROLES = [(role.value, role.label) for role in LADDER if role != Role.ANONYMOUS]


def rank(role) -> int:
    return LADDER.index(Role(role))


def default_role() -> Role:
    return Role(setting("MEDIASPACE_DEFAULT_ROLE"))


def role_of(user) -> Role:
    """The user's role; remembered on the user object for the rest of the request."""
    if user is None or not user.is_authenticated:
        return Role.ANONYMOUS
    cached = getattr(user, "_mediaspace_role", None)
    if cached is None:
        from .models import UserRole

        stored = UserRole.objects.filter(user=user).values_list("role", flat=True).first()
        cached = user._mediaspace_role = Role(stored) if stored else default_role()
    return cached


def has_role(user, minimum) -> bool:
    """Does this user have at least the role `minimum` ("that role and every role above it")?"""
    return rank(role_of(user)) >= rank(minimum)
