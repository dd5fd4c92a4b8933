from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from integrations.microsoft.forms import sensitive_secret
from mediaspace.admin import ModuleAdmin

from . import signin
from .forms import OneDriveModuleForm
from .models import MicrosoftAccount, OneDriveModule


@admin.register(OneDriveModule)
class OneDriveModuleAdmin(ModuleAdmin):
    form = OneDriveModuleForm
    change_form_template = "admin/onedrive/onedrivemodule/change_form.html"
    fieldsets = [
        (None, {"fields": ["enabled", "allowed_roles", "application_id"]}),
        (_("Optional"), {"fields": ["client_secret", "remove_client_secret", "tenant", "max_import_size_mb"]}),
    ]

    @sensitive_secret
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not obj.client_secret:  # nothing to remove
            fieldsets = [(name, {**options, "fields": [f for f in options["fields"] if f != "remove_client_secret"]})
                         for name, options in fieldsets]
        return fieldsets

    def render_change_form(self, request, context, *args, **kwargs):
        uri = signin.redirect_uri(request)
        context.update({
            "redirect_uri": uri, "redirect_uri_accepted": signin.redirect_uri_accepted(uri),
            "host_has_underscore": "_" in request.get_host(),
            "secret_is_set": bool(context.get("original") and context["original"].client_secret),
        })
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(MicrosoftAccount)
class MicrosoftAccountAdmin(admin.ModelAdmin):
    """Who is signed in to Microsoft for OneDrive; deleting a row signs that user out (tokens are never shown)."""

    list_display = ["user", "username", "tenant_id", "expires_at", "updated"]
    search_fields = ["user__username", "username"]
    list_select_related = ["user"]
    fields = ["user", "username", "display_name", "tenant_id", "object_id", "expires_at", "updated"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
