import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import DUPLICATE_APP_MESSAGE, TeamsIntegration, expiry_period
from .owners import TeamsUser
from integrations.microsoft.forms import YES_NO, SecretField
from integrations.microsoft.validators import GUID

class TeamsIntegrationCreateForm(forms.ModelForm):
    """'Add new Teams integration': exactly the seed's four fields."""

    client_secret = SecretField()

    class Meta:
        model = TeamsIntegration
        fields = ["name", "tenant_id", "client_id", "client_secret"]

    def clean_tenant_id(self):
        return self.cleaned_data["tenant_id"].strip().lower()

    def clean_client_id(self):
        return self.cleaned_data["client_id"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        existing = TeamsIntegration.objects.filter(tenant_id=cleaned.get("tenant_id"),
                                                   client_id=cleaned.get("client_id")).first()
        if existing is not None:
            # A new secret for the same app (the seed's tip for an expired one) goes to the existing integration.
            # On the field, so that the model's unique constraint does not say it a second time.
            self.add_error("client_id", format_html(
                '{} {} <a href="{}">{}</a>.', DUPLICATE_APP_MESSAGE,
                _("To give “%(name)s” a new secret, use") % {"name": existing.name},
                reverse("admin:integrations_teamsintegration_secret", args=[existing.pk]),
                _("Update application (client) secret")))
        return cleaned


class SecretUpdateForm(forms.ModelForm):
    """'Update application (client) secret'."""

    client_secret = SecretField(label=_("New application (client) Secret"))

    class Meta:
        model = TeamsIntegration
        fields = ["client_secret", "secret_expires_on"]
        widgets = {"secret_expires_on": forms.DateInput(attrs={"type": "date"})}


class TeamsIntegrationForm(forms.ModelForm):
    """'Edit Teams account': the seed's settings in the seed's order."""

    groups_text = forms.CharField(
        label=_("Groups"), required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=_("For opt-in or opt-out groups: one group per line, its Object ID (Microsoft Entra ID > Groups) "
                    "optionally followed by its display name."),
    )

    class Meta:
        model = TeamsIntegration
        fields = [
            "name", "categories", "upload_policy", "transcription", "co_organizer_permission",
            "presenter_permission", "attendee_permission", "user_id_source", "upn_rule", "postfix",
            "find_user_by", "missing_user", "default_user", "secret_expires_on", "guest_permissions",
            "recording_expiry_days", "ask_owners",
        ]
        widgets = {
            "upload_policy": forms.RadioSelect,
            "transcription": forms.RadioSelect(choices=YES_NO),
            "guest_permissions": forms.RadioSelect(choices=YES_NO),
            "ask_owners": forms.RadioSelect(choices=YES_NO),
            "user_id_source": forms.RadioSelect,
            "upn_rule": forms.RadioSelect,
            "find_user_by": forms.RadioSelect,
            "missing_user": forms.RadioSelect,
            "secret_expires_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["groups_text"] = "\n".join(
                f"{group.group_id} {group.display_name}".strip() for group in self.instance.groups.all()
            )

    def clean_postfix(self):
        postfix = self.cleaned_data["postfix"].strip()
        if any(character.isspace() for character in postfix):
            raise ValidationError(_("A postfix cannot contain spaces."))
        return postfix

    def clean_groups_text(self):
        groups, seen = [], set()
        for number, line in enumerate(self.cleaned_data["groups_text"].splitlines(), start=1):
            group_id, _space, display_name = line.strip().partition(" ")
            if not group_id:
                continue
            if not GUID.match(group_id):
                raise ValidationError(
                    _("Line %(number)s: “%(value)s” is not a group Object ID (00000000-0000-0000-0000-000000000000).")
                    % {"number": number, "value": group_id[:60]})
            if group_id.lower() not in seen:
                seen.add(group_id.lower())
                groups.append((group_id.lower(), display_name.strip()[:256]))
        return groups

    def clean(self):
        cleaned = super().clean()
        policy = cleaned.get("upload_policy")
        if policy in (TeamsIntegration.UploadPolicy.OPT_IN, TeamsIntegration.UploadPolicy.OPT_OUT) and not cleaned.get(
                "groups_text"):
            self.add_error("groups_text", _("Enter at least one group for the opt-in or opt-out policy."))
        uses_postfix = (cleaned.get("user_id_source") == TeamsIntegration.UserIdSource.UPN and cleaned.get("upn_rule")
                        in (TeamsIntegration.UpnRule.ADD_POSTFIX, TeamsIntegration.UpnRule.REMOVE_POSTFIX))
        if uses_postfix and not cleaned.get("postfix"):
            self.add_error("postfix", _("Enter the postfix to add or remove, for example @company.com."))
        if cleaned.get("missing_user") == TeamsIntegration.MissingUser.DEFAULT and not cleaned.get("default_user"):
            self.add_error("default_user", _("Choose the default user that owns recordings of unknown Teams users."))
        return cleaned


class BackfillForm(forms.Form):
    """The first time an integration is enabled: new recordings only, or also those of the last N days."""

    NEW_ONLY, BACKFILL = "new", "backfill"
    bring = forms.ChoiceField(label=_("Recordings to bring in"), widget=forms.RadioSelect, initial=NEW_ONLY,
                              required=False, help_text=_("Every round also looks back a day, for recordings "
                                                          "Microsoft lists late."),
                              choices=[  # not given: new recordings only
        (NEW_ONLY, _("New recordings only")), (BACKFILL, _("Also the recordings of the last N days"))])
    days = forms.IntegerField(label=_("N (days)"), required=False, min_value=1,
                              help_text=_("At most the tenant's expiry period: older recordings are gone from "
                                          "Microsoft. The closest to expiry come first."))

    def __init__(self, *args, integration, **kwargs):
        super().__init__(*args, **kwargs)
        most = expiry_period(integration.recording_expiry_days).days
        self.fields["days"].max_value = most
        self.fields["days"].validators.append(MaxValueValidator(most))
        self.fields["days"].initial = most
        self.fields["days"].widget.attrs.update(min=1, max=most)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("bring") == self.BACKFILL:
            if not cleaned.get("days") and "days" not in self.errors:
                self.add_error("days", _("Enter how many days back to bring recordings from."))
            cleaned["backfill_days"] = cleaned.get("days") or 0
        else:
            cleaned["backfill_days"] = 0
        return cleaned


UPN_PATTERN = re.compile(r"^[A-Za-z0-9._%+\-'!#^~$&*=?{|}/`]+(@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?$")


class OwnerPreviewForm(forms.Form):
    """'Preview owner mapping': a typed UPN, or one of the integration's recent organizers."""

    upn = forms.CharField(
        label=_("User Principal Name"), required=False, max_length=256,
        help_text=_("As in Microsoft Entra ID, for example john.doe@contoso.com. Microsoft is not asked: the preview "
                    "takes a typed UPN as Graph would give it (the UPN alone, without the user's mail or Azure user "
                    "ID)."))
    organizer = forms.ChoiceField(
        label=_("Or a recent organizer"), required=False,
        help_text=_("Organizers of this integration's recordings, most recent first; the preview uses the Azure user "
                    "ID, name and e-mail stored with their recordings."))

    def __init__(self, *args, organizers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organizers = {organizer.upn: organizer for organizer in organizers}
        self.fields["organizer"].choices = [("", "---------")] + [
            (organizer.upn, f"{organizer.upn} ({organizer.display_name})" if organizer.display_name else organizer.upn)
            for organizer in organizers]

    def clean_upn(self):
        upn = self.cleaned_data["upn"]
        if upn and not UPN_PATTERN.match(upn):
            raise ValidationError(_("This is not a User Principal Name: enter one such as john.doe@contoso.com "
                                    "(letters, digits and . _ - ' and the like, at most one @, no spaces)."))
        return upn

    def clean(self):
        cleaned = super().clean()
        upn, organizer = cleaned.get("upn"), cleaned.get("organizer")
        if self.errors:
            return cleaned
        if upn and organizer:
            raise ValidationError(_("Enter a UPN or pick a recent organizer, not both."))
        if not upn and not organizer:
            raise ValidationError(_("Enter a UPN or pick a recent organizer."))
        cleaned["typed"] = bool(upn)
        cleaned["teams_user"] = TeamsUser(id="", upn=upn) if upn else self.organizers[organizer]
        return cleaned
