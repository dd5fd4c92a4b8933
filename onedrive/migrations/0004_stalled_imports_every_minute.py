from django.db import migrations

SCHEDULE_NAME = "OneDrive stalled imports"


def every_minutes(minutes):
    def update(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).update(minutes=minutes)
    return update


class Migration(migrations.Migration):
    """Every minute, so that a dead worker's import is taken over within 3 minutes (not 5 plus the lease)."""

    dependencies = [("onedrive", "0003_strict_encrypted_fields"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(every_minutes(1), every_minutes(5))]
