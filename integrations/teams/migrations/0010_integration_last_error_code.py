"""The integration's marker keeps what kind of problem it shows as data (`last_error_code`), so the portal no
longer decides by the wording of `last_error` (the troubleshooting tip, whether a success clears the marker).

Existing markers get it from their wording, read here once; the wording stays for people.
"""
from django.db import migrations, models

# The administrator's messages of integrations.teams.diagnosis as of this migration, and their kinds.
KINDS = {
    "Application policy is missing for the configured application registration.": "policy_missing",
    "Access to the Microsoft API was denied.": "access_denied",
    "The provided application secret has expired.": "secret_expired",
    "The provided application secret is invalid.": "secret_invalid",
    "Application is disabled": "app_disabled",
    "The application (client) ID was not found in this directory (tenant). Copy both IDs again from the Overview "
    "tab of the app registration, and check that the app is registered in this tenant.": "app_not_found",
    "The directory (tenant) ID was not found. Copy it again from the Overview tab of the app registration.":
        "tenant_not_found",
    "Metered API billing is not set up for the application, so Microsoft refuses to hand out recordings. Link the "
    "app to an Azure subscription (Step 4 - Enable metered API on Microsoft Graph).": "billing_missing",
    "Microsoft could not be reached. The integration tries again by itself.": "unreachable",
    "Microsoft kept throttling the requests for too long. The integration tries again by itself later.": "throttled",
}
STARTS = {
    "The provided application credentials are missing the ": "permission_missing",
    "Microsoft Graph failed to answer (HTTP ": "graph_failed",
}


def kind_of(message: str) -> str:
    if message in KINDS:
        return KINDS[message]
    return next((kind for start, kind in STARTS.items() if message.startswith(start)), "")


def fill(apps, schema_editor):
    TeamsIntegration = apps.get_model("integrations", "TeamsIntegration")
    for integration in TeamsIntegration.objects.exclude(last_error="").only("pk", "last_error"):
        TeamsIntegration.objects.filter(pk=integration.pk).update(last_error_code=kind_of(integration.last_error))


class Migration(migrations.Migration):
    dependencies = [("integrations", "0009_recording_owner_rule")]

    operations = [
        migrations.AddField(
            model_name="teamsintegration",
            name="last_error_code",
            field=models.CharField(
                blank=True, editable=False, max_length=32, verbose_name="Kind of the last error",
                help_text="What kind of problem the last error is (integrations.teams.diagnosis.Code): what the "
                          "portal decides by (the troubleshooting tip, whether a success clears the marker).",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
