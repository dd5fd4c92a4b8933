from django.db import migrations

SCHEDULE_NAME = "Media processing stalled runs"


def create_schedule(apps, schema_editor):
    """Every minute, the default cluster queues again the processing runs whose worker died or whose task was
    lost. It touches only entries queued for processing: a migration never starts processing by itself."""
    apps.get_model("django_q", "Schedule").objects.update_or_create(name=SCHEDULE_NAME, defaults={
        "func": "mediaspace.tasks.requeue_stalled_processing",
        "schedule_type": "I",  # every `minutes`
        "minutes": 1,
        "repeats": -1,
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("mediaspace", "0006_media_pipeline"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
