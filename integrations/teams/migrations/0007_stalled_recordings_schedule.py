from django.db import migrations

SCHEDULE_NAME = "Teams stalled recordings"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(name=SCHEDULE_NAME, defaults={
        "func": "integrations.teams.tasks.queue_due_recordings",
        "schedule_type": "I",  # every `minutes`: a dead worker's recording is taken over within 3 minutes
        "minutes": 1,
        "repeats": -1,
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("integrations", "0006_strict_encrypted_secret"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
