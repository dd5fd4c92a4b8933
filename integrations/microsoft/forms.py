"""Form fields that both integrations ask an administrator for, and the guard of the admin views that take them."""
from django import forms
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

YES_NO = [(True, _("Yes")), (False, _("No"))]

# For an admin view whose form has a SecretField named client_secret: the typed secret is blanked in Django's
# error reports and debug page.
sensitive_secret = method_decorator(sensitive_post_parameters("client_secret"))


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
