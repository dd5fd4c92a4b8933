"""The ledger says which owner rule applied as data (`Recording.owner_rule`), not only in the words of `reason`.

Existing rows get it from their reason, read here once as the admin read it before; the reason stays for
humans. The state "skipped" was never set and goes.
"""
from django.db import migrations, models

# How the owner rules' steps in `reason` begin (integrations.teams.owners), as of this migration.
DEFAULT = "Using the default user"
AMBIGUOUS = "More than one portal user matches"
NO_MATCH = "No portal user matches the recording's owner, and no default user is set."
CANNOT_CREATE = "The portal cannot create a user named"


def rule_of(reason: str) -> str:
    """The owner rule a reason tells of ('' when it tells of none)."""
    lines = reason.splitlines()

    def says(start):
        return any(line.startswith(start) for line in lines)

    if says(DEFAULT):
        return "default_ambiguous" if says(AMBIGUOUS) else "default_no_match"
    if says(AMBIGUOUS):
        return "ambiguous"
    if says("Created portal user"):
        return "created"
    if says("Found portal user"):
        return "found"
    if says(NO_MATCH):
        return "no_match"
    if says(CANNOT_CREATE):
        return "cannot_create"
    return ""


def fill(apps, schema_editor):
    Recording = apps.get_model("integrations", "Recording")
    by_rule = {}
    for pk, reason in Recording.objects.exclude(reason="").values_list("pk", "reason").iterator():
        rule = rule_of(reason)
        if rule:
            by_rule.setdefault(rule, []).append(pk)
    for rule, pks in by_rule.items():
        for first in range(0, len(pks), 500):
            Recording.objects.filter(pk__in=pks[first:first + 500]).update(owner_rule=rule)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0008_tasks_moved_to_teams_package")]

    operations = [
        migrations.AddField(
            model_name="recording",
            name="owner_rule",
            field=models.CharField(
                blank=True,
                choices=[("", "Not applied"), ("found", "Found"), ("created", "Created"),
                         ("default_no_match", "Default user (no match)"),
                         ("default_ambiguous", "Default user (more than one match)"),
                         ("ambiguous", "More than one match, no default user"),
                         ("no_match", "No match, no default user"), ("cannot_create", "Cannot create the user")],
                default="",
                help_text="Which owner rule applied the last time the owner was looked up (the reason says how).",
                max_length=24,
                verbose_name="owner rule",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="recording",
            name="state",
            field=models.CharField(
                choices=[("discovered", "Discovered"), ("downloading", "Downloading"), ("ready", "Ready"),
                         ("failed", "Failed"), ("discarded", "Discarded")],
                default="discovered",
                max_length=16,
                verbose_name="state",
            ),
        ),
    ]
