"""Modules: the portal's configurable features, one row each (their views are guarded by
decorators.module_required)."""
from django.db import connection, models
from django.db.models import Value
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
        self._menu = (None, None)  # (the modules with a menu item, the query of add_new_menu)

    def register(self, module_class):
        if module_class not in self._modules:
            self._modules.append(module_class)
        return module_class

    def __iter__(self):
        return iter(self._modules)

    def add_new_menu(self, user):
        """(label, url) of every enabled module with a menu item that this user may use. Every page shows it, so all
        the modules are read in one query, fresh on every request, and only whether each is on and for whom (no
        secret decrypted); a missing row is the defaults'."""
        with_menu = [module_class for module_class in self._modules if module_class.menu_url_name]
        found = {}
        if with_menu:
            with connection.cursor() as cursor:
                cursor.execute(*self._menu_query(with_menu))
                found = {number: {"enabled": bool(enabled), "allowed_roles": allowed_roles}
                         for number, enabled, allowed_roles in cursor.fetchall()}
        menu = []
        for number, module_class in enumerate(with_menu):
            if module_class(**found.get(number, {})).allows(user):
                menu.append((module_class.menu_label, reverse(module_class.menu_url_name)))
        return menu

    def _menu_query(self, with_menu):
        """add_new_menu's SQL and parameters, built by the ORM once per process: they never change, and building
        them took more time than running them (about 0.3 ms on every page)."""
        built_for, query = self._menu
        if built_for != with_menu:
            rows = [module_class.objects.filter(pk=1).values_list(Value(number), "enabled", "allowed_roles")
                    for number, module_class in enumerate(with_menu)]
            query = rows[0].union(*rows[1:], all=True).query.sql_with_params()
            self._menu = (with_menu, query)  # one assignment: another thread sees the old pair or the new one
        return query


registry = ModuleRegistry()
