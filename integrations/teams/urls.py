from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("teams/recordings/<int:pk>/keep/", views.keep, name="keep"),
    path("teams/recordings/<int:pk>/discard/", views.discard, name="discard"),
    # Microsoft Graph's notificationUrl and lifecycleNotificationUrl (integrations/teams/notifications.py)
    path("teams/notifications/", views.notifications, name="notifications"),
    path("teams/notifications/lifecycle/", views.notifications, name="lifecycle-notifications"),
]
