from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Microsoft Teams integration")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from mediaspace import notices

        from .teams import decisions

        notices.register(decisions.notices)
