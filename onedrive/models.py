from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.microsoft.fields import EncryptedCharField, EncryptedTextField
from integrations.microsoft.validators import GUID, validate_guid
from mediaspace.modules import Module, registry

ANY_ORGANIZATION = "organizations"


def validate_tenant(value):
    if value != ANY_ORGANIZATION and not GUID.match(value or ""):
        raise ValidationError(
            _("Enter 'organizations' to let users of any organisation sign in, or one directory (tenant) ID "
              "such as 00000000-0000-0000-0000-000000000000."),
            code="invalid_tenant",
        )


@registry.register
class OneDriveModule(Module):
    """The OneDrive module: users import media from their OneDrive through a file picker."""

    application_id = models.CharField(
        _("applicationId"), max_length=36, blank=True, validators=[validate_guid],
        help_text=_("The Application (client) ID from the Overview tab of the Azure app registration."),
    )
    client_secret = EncryptedCharField(
        _("client secret (optional)"), max_length=255, blank=True,
        help_text=_("Optional. With a client secret of the app registration, sign-in uses the authorization-code "
                    "flow with PKCE and refresh tokens instead of the implicit grant."),
    )
    tenant = models.CharField(
        _("tenant"), max_length=36, default=ANY_ORGANIZATION, validators=[validate_tenant],
        help_text=_("Who may sign in: 'organizations' (any organisation, as the multitenant app registration "
                    "allows) or one directory (tenant) ID."),
    )
    max_import_size_mb = models.PositiveIntegerField(
        _("maximum import size (MiB)"), default=4096,
        help_text=_("Larger files cannot be selected and are refused before any download."),
    )

    menu_label = _("Import from OneDrive")
    menu_url_name = "onedrive:picker"

    class Meta:
        verbose_name = _("OneDrive module")
        verbose_name_plural = _("OneDrive module")

    def clean(self):
        if self.enabled and not self.application_id:
            raise ValidationError({"application_id": _("Enter the applicationId before enabling the module.")})

    @property
    def uses_code_flow(self) -> bool:
        return bool(self.client_secret)

    @property
    def max_import_size(self) -> int:
        return self.max_import_size_mb * 1024 * 1024


class SignInRequest(models.Model):
    """One sign-in with Microsoft that this server started: `state` is accepted once, from this user only."""

    LIFETIME_SECONDS = 15 * 60

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64)
    # The code flow's msal state (PKCE verifier included): a secret until it is used.
    code_flow = EncryptedTextField(blank=True)
    application_id = models.CharField(max_length=36)
    redirect_uri = models.URLField(max_length=500)
    next_url = models.CharField(max_length=2000, blank=True)
    created = models.DateTimeField(default=timezone.now)
    used = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"sign-in of {self.user} at {self.created:%Y-%m-%d %H:%M}"

    @property
    def expired(self) -> bool:
        return (timezone.now() - self.created).total_seconds() > self.LIFETIME_SECONDS


class MicrosoftAccount(models.Model):
    """A portal user's Microsoft sign-in for OneDrive: the tokens stay encrypted on the server."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="microsoft_account")
    tenant_id = models.CharField(_("tenant id"), max_length=36)
    object_id = models.CharField(_("object id"), max_length=36)
    username = models.CharField(_("Microsoft account"), max_length=255, blank=True)
    display_name = models.CharField(_("name"), max_length=255, blank=True)
    application_id = models.CharField(max_length=36)
    access_token = EncryptedTextField()
    expires_at = models.DateTimeField()
    refresh_token = EncryptedTextField(blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Microsoft sign-in")

    def __str__(self):
        return self.username or self.object_id
