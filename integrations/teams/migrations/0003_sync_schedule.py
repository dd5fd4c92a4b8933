from django.db import migrations

from mediaspace.conf import setting

SCHEDULE_NAME = "Teams recordings sync"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(name=SCHEDULE_NAME, defaults={
        "func": "integrations.teams.tasks.sync_all",
        "schedule_type": "I",  # every `minutes`
        "minutes": setting("TEAMS_SYNC_MINUTES"),
        "repeats": -1,
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_ledger"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
