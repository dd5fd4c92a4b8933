"""Modules: the portal's configurable features, one row each, with one access check for all."""
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .roles import SIGNED_IN_ROLES, Role, has_role


class Module(models.Model):
    """Base of every module: `enabled`, `allowedRoles` and the module's own typed fields."""

    enabled = models.BooleanField(
        _("enabled"), default=False, help_text=_("Set to 'Yes' to turn this module on for the portal.")
    )
    allowed_roles = models.CharField(
        _("allowedRoles"),
        max_length=32,
        choices=SIGNED_IN_ROLES,
        default=Role.PRIVATE_ONLY,
        help_text=_("The minimum role allowed to use this module; every role above it may use it too."),
    )
    updated = models.DateTimeField(_("updated at"), auto_now=True)

    # The "Add new" menu item of the module: its label and the name of the URL it opens.
    menu_label = None
    menu_url_name = None

    class Meta:
        abstract = True

    def __str__(self):
        return str(self._meta.verbose_name)

    @classmethod
    def load(cls):
        """The module's single row, created with its defaults on first use."""
        module, _created = cls.objects.get_or_create(pk=1)
        return module

    def allows(self, user) -> bool:
        return self.enabled and has_role(user, self.allowed_roles)


class ModuleRegistry:
    def __init__(self):
        self._modules = []

    def register(self, module_class):
        if module_class not in self._modules:
            self._modules.append(module_class)
        return module_class

    def __iter__(self):
        return iter(self._modules)

    def add_new_menu(self, user):
        """(label, url) of every enabled module with a menu item that this user may use."""
        menu = []
        for module_class in self._modules:
            if module_class.menu_url_name and module_class.load().allows(user):
                menu.append((module_class.menu_label, reverse(module_class.menu_url_name)))
        return menu


registry = ModuleRegistry()


def forbidden(request, message):
    return render(request, "mediaspace/forbidden.html", {"message": message}, status=403)


def module_required(module_class):
    """Guard a module's view: disabled module or role too low gives a readable 403.

    A visitor who is not signed in is sent to sign in first, unless the module is off anyway.
    The loaded module is available to the view as `request.module`.
    """

    def decorator(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            module = module_class.load()
            if not module.enabled:
                return forbidden(
                    request, _("%(module)s is turned off on this portal.") % {"module": module}
                )
            if not has_role(request.user, module.allowed_roles):
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                return forbidden(
                    request,
                    _("Your role does not allow you to use the %(module)s. Ask a portal administrator "
                      "for the role %(role)s or higher.")
                    % {"module": module, "role": module.allowed_roles},
                )
            request.module = module
            return view(request, *args, **kwargs)

        return guarded

    return decorator
