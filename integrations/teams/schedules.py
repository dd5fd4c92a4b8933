"""The "Teams recordings sync" schedule follows TEAMS_SYNC_MINUTES on every `migrate` and cluster start, unless an
administrator changed it in the admin (the rule: mediaspace/schedules.py). The migration that creates it
(0003_sync_schedule) gives it the setting's minutes of that day; these keep it in step afterwards."""
import logging

from django.apps import apps as global_apps

from mediaspace.schedules import follow_setting

logger = logging.getLogger(__name__)

SYNC_SCHEDULE = "Teams recordings sync"


def follow_after_migrate(sender, using, apps=global_apps, **kwargs):
    """post_migrate: the migration state's models, which lack the schedules when migrating back before them.
    `flush` (a test's teardown among others) sends the signal without `apps`: then the registry's models."""
    try:
        follow_setting(SYNC_SCHEDULE, "TEAMS_SYNC_MINUTES", apps=apps, using=using)
    except LookupError:
        pass


def follow_at_start(sender, **kwargs):
    """django-q2's post_spawn, as each worker of a starting cluster spawns: a failure costs the follow, not the
    worker."""
    try:
        follow_setting(SYNC_SCHEDULE, "TEAMS_SYNC_MINUTES")
    except Exception:  # noqa: BLE001 - the database may be busy or not migrated yet; the next start tries again
        logger.exception("The %r schedule could not follow TEAMS_SYNC_MINUTES", SYNC_SCHEDULE)
