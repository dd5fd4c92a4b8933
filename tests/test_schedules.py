"""The Teams sync schedule follows TEAMS_SYNC_MINUTES on every `migrate` and cluster start, unless an administrator
changed it in the admin (integrations/teams/schedules.py, mediaspace/schedules.py)."""
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django_q.models import Schedule
from django_q.signals import post_spawn

from mediaspace.models import FollowedSchedule

pytestmark = pytest.mark.django_db

SYNC = "Teams recordings sync"


def minutes():
    return Schedule.objects.get(name=SYNC).minutes


def test_a_changed_setting_reaches_the_schedule_on_migrate(settings):
    settings.TEAMS_SYNC_MINUTES = 7
    call_command("migrate", verbosity=0)
    assert minutes() == 7

    settings.TEAMS_SYNC_MINUTES = 3  # and again, each time the setting changes
    call_command("migrate", verbosity=0)
    assert minutes() == 3


def test_a_post_migrate_without_the_migration_state_follows_with_the_registry(settings):
    """`flush` (every transactional test's teardown) sends post_migrate without `apps`."""
    settings.TEAMS_SYNC_MINUTES = 13
    teams = apps.get_app_config("integrations")
    post_migrate.send(sender=teams, app_config=teams, verbosity=0, interactive=False, using="default")
    assert minutes() == 13


def test_a_changed_setting_reaches_the_schedule_when_the_cluster_starts(settings):
    settings.TEAMS_SYNC_MINUTES = 11
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    assert minutes() == 11


def test_minutes_an_administrator_set_in_the_admin_are_left_alone(settings, admin_client):
    schedule = Schedule.objects.get(name=SYNC)
    response = admin_client.post(f"/admin/django_q/schedule/{schedule.pk}/change/", {
        "name": SYNC, "func": schedule.func, "hook": "", "args": "", "kwargs": "", "schedule_type": "I",
        "minutes": 30, "repeats": -1, "next_run_0": "2026-01-01", "next_run_1": "00:00:00", "cron": "",
        "cluster": "", "intended_date_kwarg": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert minutes() == 30

    settings.TEAMS_SYNC_MINUTES = 7
    call_command("migrate", verbosity=0)
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    assert minutes() == 30


def test_an_administrator_s_minutes_that_the_setting_comes_to_agree_with_follow_it_again(settings):
    Schedule.objects.filter(name=SYNC).update(minutes=30)  # set in the admin
    settings.TEAMS_SYNC_MINUTES = 30
    call_command("migrate", verbosity=0)
    settings.TEAMS_SYNC_MINUTES = 10
    call_command("migrate", verbosity=0)
    assert minutes() == 10


@pytest.mark.parametrize(("stored", "expected"), [(5, 8), (20, 20)])
def test_a_schedule_from_before_the_marker_follows_only_from_the_setting_s_value(settings, stored, expected):
    # A database migrated before the schedule remembered what the setting wrote: 5 (the default then) is taken
    # to be the setting's, anything else may be an administrator's (the documented way to change it then).
    FollowedSchedule.objects.all().delete()
    Schedule.objects.filter(name=SYNC).update(minutes=stored)
    settings.TEAMS_SYNC_MINUTES = 5
    call_command("migrate", verbosity=0)
    settings.TEAMS_SYNC_MINUTES = 8
    call_command("migrate", verbosity=0)
    assert minutes() == expected


def test_a_deleted_schedule_is_not_brought_back(settings):
    Schedule.objects.filter(name=SYNC).delete()
    settings.TEAMS_SYNC_MINUTES = 7
    call_command("migrate", verbosity=0)
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    assert not Schedule.objects.filter(name=SYNC).exists()
