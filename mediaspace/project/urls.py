"""URLs of the stand-alone portal; a host project includes the apps' URLs the same way."""
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = admin.site.site_title = "MediaSpace administration"
admin.site.index_title = "Configuration console"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("mediaspace.urls")),
    path("", include("onedrive.urls")),
    path("", include("integrations.teams.urls")),
]
