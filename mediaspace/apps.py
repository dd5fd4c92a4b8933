from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediaspaceConfig(AppConfig):
    name = "mediaspace"
    verbose_name = _("Portal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, signals  # noqa: F401  (registers the checks and signal handlers)
