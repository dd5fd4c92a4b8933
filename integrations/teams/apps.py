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
        from django.db.models.signals import post_migrate
        from django_q.signals import post_spawn
        from mediaspace import notices

        from . import decisions, schedules

        notices.register(decisions.notices)
        # The sync schedule follows TEAMS_SYNC_MINUTES after every `migrate` and as a cluster starts.
        post_migrate.connect(schedules.follow_after_migrate, sender=self, dispatch_uid="teams_sync_minutes")
        post_spawn.connect(schedules.follow_at_start, dispatch_uid="teams_sync_minutes")
