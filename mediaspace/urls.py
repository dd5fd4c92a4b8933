from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "mediaspace"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="mediaspace/login.html",
                                               redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("my-media/", views.my_media, name="my_media"),
    path("my-media/status/", views.my_media_status, name="my_media_status"),
    path("upload/", views.upload, name="upload"),
    path("media/<int:pk>/", views.entry_detail, name="entry"),
    path("media/<int:pk>/edit/", views.entry_edit, name="entry_edit"),
    path("media/<int:pk>/delete/", views.entry_delete, name="entry_delete"),
    path("media/<int:pk>/retry-processing/", views.entry_retry_processing, name="entry_retry_processing"),
    path("media/<int:pk>/file/", views.entry_media, name="entry_media"),
    path("media/<int:pk>/playback/", views.entry_playback, name="entry_playback"),
    path("media/<int:pk>/pictures/<slug:name>/", views.entry_picture, name="entry_picture"),
    path("media/<int:pk>/seek-previews.vtt", views.entry_seek_track, name="entry_seek_track"),
    path("media/<int:pk>/captions/", views.caption_add, name="caption_add"),
    path("media/<int:pk>/captions/<int:track_pk>/delete/", views.caption_remove, name="caption_remove"),
    path("media/<int:pk>/collaborators/", views.collaborator_add, name="collaborator_add"),
    path("media/<int:pk>/collaborators/<int:collaborator_pk>/delete/", views.collaborator_remove,
         name="collaborator_remove"),
    path("media/<int:pk>/publish/", views.publish, name="publish"),
    path("media/<int:pk>/unpublish/<int:category_pk>/", views.unpublish, name="unpublish"),
    path("captions/<int:pk>.vtt", views.caption_file, name="caption_file"),
    path("categories/", views.category_list, name="categories"),
    path("categories/<int:pk>/", views.category_detail, name="category"),
]
