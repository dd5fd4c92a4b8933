"""The Teams tasks moved from `integrations.tasks` to `integrations.teams.tasks` when the shared Microsoft kit
(`integrations.microsoft`) was set apart from the Teams app: schedules stored under the old path follow them."""
from django.db import migrations

OLD, NEW = "integrations.tasks.", "integrations.teams.tasks."


def follow(old, new):
    def rename(apps, schema_editor):
        Schedule = apps.get_model("django_q", "Schedule")
        for schedule in Schedule.objects.filter(func__startswith=old):
            schedule.func = new + schedule.func[len(old):]
            schedule.save(update_fields=["func"])

    return rename


class Migration(migrations.Migration):
    dependencies = [("integrations", "0007_stalled_recordings_schedule"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(follow(OLD, NEW), follow(NEW, OLD))]
