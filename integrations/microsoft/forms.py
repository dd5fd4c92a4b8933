"""Form fields that both integrations ask an administrator for."""
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

YES_NO = [(True, _("Yes")), (False, _("No"))]


class SecretField(forms.CharField):
    """Write-only: the secret is never rendered back, not even masked."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Application (client) Secret"))
        kwargs.setdefault("help_text", _("The Value of the client secret from Certificates & secrets (shown only "
                                         "once in Azure), not its Secret ID."))
        super().__init__(widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                         max_length=255, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value and (len(value) < 8 or any(character.isspace() for character in value)):
            raise ValidationError(_("This does not look like a client secret value: paste the Value column of the "
                                    "secret exactly, without spaces."))
        return value
