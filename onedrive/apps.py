from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnedriveConfig(AppConfig):
    name = "onedrive"
    verbose_name = _("OneDrive")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from mediaspace.models import RETRY_URL_NAMES, MediaEntry

        RETRY_URL_NAMES[MediaEntry.Source.ONEDRIVE] = "onedrive:retry"
