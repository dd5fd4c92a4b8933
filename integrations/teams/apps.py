from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    # The Teams app keeps the label "integrations", so existing databases, migrations and admin URLs stay as
    # they were when it was the whole package.
    name = "integrations.teams"
    label = "integrations"
    verbose_name = _("Microsoft Teams integration")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from mediaspace import notices

        from . import decisions

        notices.register(decisions.notices)
