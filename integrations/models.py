from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_model_fields.fields import EncryptedCharField

from .validators import validate_guid

SECRET_EXPIRY_WARNING_DAYS = 30


class TeamsIntegrationQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class TeamsIntegration(models.Model):
    """One Microsoft Entra app registration whose tenant's Teams meeting recordings come to the portal."""

    class UploadPolicy(models.TextChoices):
        ALL = "all", _("Upload all recordings - All recordings in the account will be uploaded.")
        OPT_IN = "opt_in", _("Opt-in groups - Recordings will be uploaded if the owner of the recordings is in "
                             "one of the opt-in groups.")
        OPT_OUT = "opt_out", _("Opt-out groups - Recordings will be uploaded if the owner of the recordings is "
                               "not in one of the opt-out groups.")

    class Permission(models.TextChoices):
        NONE = "none", _("None")
        CO_VIEWERS = "co_viewers", _("Co-viewers")
        CO_EDITORS = "co_editors", _("Co-editors")
        CO_PUBLISHERS = "co_publishers", _("Co-publishers")
        CO_EDITORS_AND_PUBLISHERS = "co_editors_publishers", _("Co-editors & Co-publishers")

    USER_PERMISSIONS = [
        (Permission.NONE.value, Permission.NONE.label),
        (Permission.CO_VIEWERS.value, Permission.CO_VIEWERS.label),
        (Permission.CO_PUBLISHERS.value, Permission.CO_PUBLISHERS.label),
    ]

    class UserIdSource(models.TextChoices):
        UPN = "upn", _("Microsoft User Principal Name")
        AZURE_ID = "azure_id", _("Azure user ID")

    class UpnRule(models.TextChoices):
        KEEP = "keep", _("Do not modify")
        REMOVE_POSTFIX = "remove_postfix", _("Remove postfix")
        ADD_POSTFIX = "add_postfix", _("Add postfix")

    class FindUserBy(models.TextChoices):
        USER_ID = "user_id", _("User ID")
        EMAIL = "email", _("User e-mail")
        BOTH = "both", _("Both")

    class MissingUser(models.TextChoices):
        CREATE = "create", _("Create new user based on Teams user")
        DEFAULT = "default", _("Use default user")

    name = models.CharField(_("Name"), max_length=200, help_text=_("A name for this integration."))
    tenant_id = models.CharField(
        _("Directory (tenant) ID"), max_length=36, validators=[validate_guid],
        help_text=_("From the Overview tab of the Azure application you registered for this integration."),
    )
    client_id = models.CharField(
        _("Application (client) ID"), max_length=36, validators=[validate_guid],
        help_text=_("From the Overview tab of the Azure application you registered for this integration."),
    )
    client_secret = EncryptedCharField(
        _("Application (client) Secret"), max_length=255,
        help_text=_("The value of the client secret you created under Certificates & secrets (not its Secret ID)."),
    )
    secret_expires_on = models.DateField(
        _("Secret expires on"), null=True, blank=True,
        help_text=_("Optional: the secret's expiry date from Certificates & secrets. The integration list warns "
                    "30 days before it."),
    )
    enabled = models.BooleanField(
        _("Status"), default=False, choices=[(True, _("Enabled")), (False, _("Disabled"))],
        help_text=_("An integration is created disabled. Enable it to start uploading recordings."),
    )
    categories = models.ManyToManyField(
        "mediaspace.Category", blank=True, related_name="teams_integrations", verbose_name=_("Publish to categories"),
        help_text=_("Every uploaded recording is published to these categories."),
    )
    upload_policy = models.CharField(
        _("Upload recordings management"), max_length=16, choices=UploadPolicy.choices, default=UploadPolicy.ALL,
    )
    transcription = models.BooleanField(
        _("Teams transcription"), default=False,
        help_text=_("Set to 'Yes' to include the transcription when uploading the recording."),
    )
    co_organizer_permission = models.CharField(
        _("Co-organizers"), max_length=32, choices=Permission.choices, default=Permission.NONE,
        help_text=_("Please note that the option Co-organizers is not currently supported by Microsoft."),
    )
    presenter_permission = models.CharField(
        _("Presenters"), max_length=32, choices=Permission.choices, default=Permission.NONE,
    )
    attendee_permission = models.CharField(_("Users"), max_length=32, choices=USER_PERMISSIONS,
                                           default=Permission.NONE)
    user_id_source = models.CharField(
        _("Set user based on"), max_length=16, choices=UserIdSource.choices, default=UserIdSource.UPN,
    )
    upn_rule = models.CharField(
        _("Microsoft User Principal Name"), max_length=16, choices=UpnRule.choices, default=UpnRule.KEEP,
        help_text=_("For example, if your UPN is john.doe@example.com and the portal user ID is john.doe, the "
                    "postfix to remove is @example.com; if your UPN is john.doe and the portal user ID is "
                    "john.doe@example.com, the postfix to add is @example.com."),
    )
    postfix = models.CharField(_("Postfix"), max_length=200, blank=True, help_text=_("For example @company.com"))
    find_user_by = models.CharField(
        _("Find user by"), max_length=16, choices=FindUserBy.choices, default=FindUserBy.USER_ID,
    )
    missing_user = models.CharField(
        _("In case the user doesn't exist"), max_length=16, choices=MissingUser.choices, default=MissingUser.CREATE,
    )
    default_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("Default user"), help_text=_("Owner of the recordings whose Teams user has no portal user."),
    )
    created = models.DateTimeField(_("Creation date"), auto_now_add=True)
    updated = models.DateTimeField(_("Updated at"), auto_now=True)
    last_error = models.TextField(_("Last error"), blank=True)
    last_error_at = models.DateTimeField(_("Last error at"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("Last successful contact"), null=True, blank=True)

    objects = TeamsIntegrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("Teams integration")
        verbose_name_plural = _("Teams integrations")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "client_id"], name="teamsintegration_unique_app",
                violation_error_message=_("An integration for this application (client) ID in this directory "
                                          "(tenant) exists already: its recordings would be uploaded twice."),
            )
        ]

    def __str__(self):
        return self.name

    def secret_expires_soon(self, today=None) -> bool:
        today = today or timezone.localdate()
        return bool(self.secret_expires_on) and self.secret_expires_on <= today + timedelta(
            days=SECRET_EXPIRY_WARNING_DAYS)


class IntegrationGroup(models.Model):
    """A Microsoft Entra group of an opt-in or opt-out upload policy."""

    integration = models.ForeignKey(TeamsIntegration, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(_("Group object ID"), max_length=36, validators=[validate_guid],
                                help_text=_("The group's Object ID from Microsoft Entra ID > Groups."))
    display_name = models.CharField(_("Display name"), max_length=256, blank=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["display_name", "group_id"]
        constraints = [models.UniqueConstraint(fields=["integration", "group_id"], name="integrationgroup_unique")]

    def __str__(self):
        return self.display_name or self.group_id
