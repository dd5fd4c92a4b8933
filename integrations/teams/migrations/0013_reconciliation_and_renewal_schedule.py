from django.db import migrations, models

SCHEDULE_NAME = "Teams subscriptions renewal"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(name=SCHEDULE_NAME, defaults={
        "func": "integrations.teams.tasks.renew_subscriptions",
        "schedule_type": "I",  # every `minutes`: subscriptions are renewed a day before they expire
        "minutes": 30,
        "repeats": -1,
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0012_change_notifications'),
        ('django_q', '0018_task_success_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='teamsintegration',
            name='reconciliation_requested_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='A gap in the notifications (subscription lost, renewal failed, missed notifications): a reconciliation round that starts after this covers it.', null=True, verbose_name='Reconciliation requested at'),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
