import re

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .captions import MAX_CAPTION_BYTES, TOO_LARGE, CaptionError, to_webvtt
from .media_types import HEAD_SIZE, kind_of, sniff
from .models import Category, MediaEntry, UploadModule

LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def validate_language(value):
    if not LANGUAGE_TAG.match(value):
        raise ValidationError(_("Enter a language tag such as en, de or pt-BR."))


class EntryForm(forms.ModelForm):
    class Meta:
        model = MediaEntry
        fields = ["name", "description", "tags"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class CaptionFieldsMixin(forms.Form):
    caption_label = forms.CharField(label=_("Caption label"), max_length=100, initial="English", required=False)
    caption_language = forms.CharField(
        label=_("Caption language"), max_length=16, initial="en", required=False, validators=[validate_language]
    )

    def clean_caption_file(self):
        upload = self.cleaned_data.get("caption_file")
        if upload:
            if upload.size > MAX_CAPTION_BYTES:
                raise ValidationError(TOO_LARGE)
            try:  # a size that lies still reads no more than one byte past the limit
                self.caption_text = to_webvtt(upload.read(MAX_CAPTION_BYTES + 1))
            except CaptionError as exc:
                raise ValidationError(str(exc)) from None
        return upload

    def caption_values(self):
        return {
            "label": self.cleaned_data.get("caption_label") or "English",
            "language": self.cleaned_data.get("caption_language") or "en",
            "content": self.caption_text.encode("utf-8"),
        }


class CaptionForm(CaptionFieldsMixin):
    caption_file = forms.FileField(label=_("Caption file (.vtt or .srt)"))


class UploadForm(CaptionFieldsMixin):
    file = forms.FileField(label=_("Media file"))
    name = forms.CharField(label=_("Name"), max_length=255, required=False,
                           help_text=_("Leave empty to use the file's name."))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tags = forms.CharField(label=_("Tags"), max_length=500, required=False, help_text=_("Separate tags with commas."))
    caption_file = forms.FileField(label=_("Caption file (.vtt or .srt, optional)"), required=False)

    field_order = ["file", "name", "description", "tags", "caption_file", "caption_label", "caption_language"]

    def __init__(self, *args, module, **kwargs):
        super().__init__(*args, **kwargs)
        self.module = module
        self.fields["file"].widget.attrs.update(
            {"data-max-bytes": module.max_size_bytes, "accept": ",".join(f"{k}/*" for k in module.allowed_kinds())}
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.module.max_size_bytes:
            raise ValidationError(too_large_message(self.module.max_size_mb))
        head = upload.read(HEAD_SIZE)
        upload.seek(0)
        content_type = sniff(head, upload.name)
        allowed = self.module.allowed_kinds()
        if kind_of(content_type) not in allowed:
            raise ValidationError(
                _("This file is not a media file this portal accepts. Allowed: %(kinds)s.")
                % {"kinds": ", ".join(allowed) or _("nothing (uploads of every type are turned off)")}
            )
        self.content_type = content_type
        return upload


def too_large_message(max_size_mb):
    return _("The file is larger than the %(size)s MiB this portal accepts.") % {"size": max_size_mb}


class CollaboratorForm(forms.Form):
    user = forms.CharField(label=_("User name or e-mail"), max_length=254)
    is_co_viewer = forms.BooleanField(label=_("Co-viewer"), required=False)
    is_co_editor = forms.BooleanField(label=_("Co-editor"), required=False)
    is_co_publisher = forms.BooleanField(label=_("Co-publisher"), required=False)

    def __init__(self, *args, entry, **kwargs):
        super().__init__(*args, **kwargs)
        self.entry = entry

    def clean_user(self):
        value = self.cleaned_data["user"].strip()
        matches = list(get_user_model().objects.filter(Q(username__iexact=value) | Q(email__iexact=value))[:2])
        if not matches:
            raise ValidationError(_("No user with this name or e-mail."))
        if len(matches) > 1:
            raise ValidationError(_("More than one user has this e-mail; enter the user name instead."))
        if matches[0].pk == self.entry.owner_id:
            raise ValidationError(_("The owner already has every permission on this entry."))
        return matches[0]

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(name) for name in ("is_co_viewer", "is_co_editor", "is_co_publisher")):
            raise ValidationError(_("Choose at least one permission."))
        return cleaned


class PublishForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.select_related("parent"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "---------")] + [(c.pk, c.path) for c in Category.objects.tree()]


class UploadModuleForm(forms.ModelForm):
    """The Upload module's settings named as the seed's module guides name them (camelCase keys, help that says
    what to set)."""

    class Meta:
        model = UploadModule
        fields = ["enabled", "allowed_roles", "max_size_mb", "allow_video", "allow_audio", "allow_image",
                  "make_renditions", "rendition_max_height"]
        # The guide's names, not capitalised (as the OneDrive module's form).
        labels = {"enabled": _("enabled"), "allowed_roles": _("allowedRoles"), "max_size_mb": _("maxFileSize (MiB)"),
                  "make_renditions": _("makeRenditions"), "rendition_max_height": _("renditionMaxHeight")}
        help_texts = {"rendition_max_height": _("Select the largest height of a web rendition. Smaller videos keep "
                                                "their size; videos that browsers play are never converted.")}
