"""Upgrading an existing portal: what the migrations do to rows written by earlier versions."""
import importlib

from django.apps import apps
from django_q.models import Schedule

moved_tasks = importlib.import_module("integrations.teams.migrations.0008_tasks_moved_to_teams_package")


def test_schedules_stored_under_the_old_tasks_path_follow_the_tasks_into_the_teams_package(db):
    Schedule.objects.create(name="old sync", func="integrations.tasks.sync_all", schedule_type=Schedule.MINUTES)
    Schedule.objects.create(name="other", func="onedrive.tasks.requeue_stalled", schedule_type=Schedule.MINUTES)

    moved_tasks.follow(moved_tasks.OLD, moved_tasks.NEW)(apps, None)

    assert Schedule.objects.get(name="old sync").func == "integrations.teams.tasks.sync_all"
    assert Schedule.objects.get(name="other").func == "onedrive.tasks.requeue_stalled"
    func = Schedule.objects.get(name="old sync").func
    module, name = func.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
