from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.microsoft.forms import YES_NO, SecretField
from integrations.microsoft.validators import validate_guid

from .models import OneDriveModule


class OneDriveModuleForm(forms.ModelForm):
    """The seed's three settings first, then the optional extras. The client secret is write-only."""

    enabled = forms.TypedChoiceField(label=_("enabled"), choices=YES_NO, coerce=lambda value: value == "True",
                                     help_text=OneDriveModule._meta.get_field("enabled").help_text)
    # Declared here so that a pasted value that is too long ("{...}", "Secret ID: ...") gets the GUID message,
    # not "at most 36 characters".
    application_id = forms.CharField(label=_("applicationId"), required=False, validators=[validate_guid],
                                     help_text=OneDriveModule._meta.get_field("application_id").help_text)
    client_secret = SecretField(
        label=_("client secret (optional)"), required=False,
        help_text=_("Optional. The Value of a client secret of the app registration: sign-in then uses the "
                    "authorization-code flow with PKCE and refresh tokens. Leave empty to keep the current one "
                    "(never shown again)."))
    remove_client_secret = forms.BooleanField(
        label=_("Remove the client secret"), required=False,
        help_text=_("Go back to the implicit grant of the seed's Azure steps (application id only)."))

    class Meta:
        model = OneDriveModule
        fields = ["enabled", "allowed_roles", "application_id", "client_secret", "tenant", "max_import_size_mb"]
        labels = {"allowed_roles": _("allowedRoles")}  # the guide's name, not capitalised

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_secret = self.instance.client_secret
        if not self._stored_secret:
            del self.fields["remove_client_secret"]

    def clean_application_id(self):
        return self.cleaned_data["application_id"].strip().lower()

    def clean_tenant(self):
        return self.cleaned_data["tenant"].strip().lower()

    def clean_client_secret(self):
        return self.cleaned_data["client_secret"] or self._stored_secret  # empty: keep the stored one

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("remove_client_secret"):  # a later field than the secret: decided here
            cleaned["client_secret"] = ""
        if self.has_error("application_id"):
            # The model's "enter it before enabling" would judge the stored id (empty at first), not the one
            # typed and refused here: the field's own message is the one that says what is wrong.
            self.instance.application_id = self.data.get(self.add_prefix("application_id"), "")
        return cleaned
