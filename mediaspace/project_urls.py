"""URLs of the stand-alone portal; a host project includes the apps' URLs the same way."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("mediaspace.urls")),
]
