from django.db import migrations

SCHEDULE_NAME = "OneDrive stalled imports"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(name=SCHEDULE_NAME, defaults={
        "func": "onedrive.tasks.requeue_stalled",
        "schedule_type": "I",  # every `minutes`
        "minutes": 5,
        "repeats": -1,
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("onedrive", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
