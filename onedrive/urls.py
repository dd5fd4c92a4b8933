from django.urls import path

from . import views

app_name = "onedrive"

urlpatterns = [
    path("onedrive/", views.picker, name="picker"),
    path("onedrive/sign-in/", views.start_signin, name="signin"),
    # The redirect URI of the seed's Azure steps: https://{site}/onedrive/index/blank-page
    path("onedrive/index/blank-page", views.blank_page, name="blank_page"),
    path("onedrive/import/", views.start_import, name="import"),
    path("onedrive/retry/<int:pk>/", views.retry, name="retry"),
]
