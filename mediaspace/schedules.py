"""Schedules whose minutes follow a setting (TEAMS_SYNC_MINUTES), unless an administrator changed them in the admin.

The setting is written to the schedule, and remembered (FollowedSchedule), on every `migrate` and cluster start.
A schedule whose minutes are neither what the setting last wrote nor the setting itself was changed by someone
else: it is theirs, and is left alone. A schedule that does not exist (not created yet, or deleted by an
administrator) is not brought back.
"""
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, transaction

from .conf import setting


def follow_setting(schedule_name, setting_name, *, apps=global_apps, using=DEFAULT_DB_ALIAS) -> bool:
    """Give the schedule the setting's minutes unless an administrator changed them; True when it follows it.

    `apps` is the app registry, or the migration state's after `migrate` (its post_migrate signal).
    """
    Schedule = apps.get_model("django_q", "Schedule")
    FollowedSchedule = apps.get_model("mediaspace", "FollowedSchedule")
    minutes = setting(setting_name)
    with transaction.atomic(using=using):
        schedule = Schedule.objects.using(using).select_for_update().filter(name=schedule_name).first()
        if schedule is None:
            return False
        written = FollowedSchedule.objects.using(using).filter(schedule=schedule).values_list("minutes", flat=True)
        if schedule.minutes not in (minutes, *written):
            return False
        if schedule.minutes != minutes:
            schedule.minutes = minutes
            schedule.save(using=using, update_fields=["minutes"])
        FollowedSchedule.objects.using(using).update_or_create(schedule=schedule, defaults={"minutes": minutes})
        return True
