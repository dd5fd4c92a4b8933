"""mediaspace/decorators.py: the guards every app's views share (entry permission, module, POST only).

The pages that use them are tested in tests/test_permissions.py; here each guard answers on its own.
"""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import Promise

from mediaspace import decorators, views
from mediaspace.models import UploadModule
from mediaspace.roles import Role

pytestmark = pytest.mark.django_db


def reached(request, *args, **kwargs):
    return HttpResponse("reached")


def get(path="/somewhere", user=None, method="get"):
    request = getattr(RequestFactory(), method)(path)
    request.user = user or AnonymousUser()
    return request


def test_the_guards_live_in_their_own_module_and_the_pages_use_them():
    assert views.entry_view is decorators.entry_view and views.post_only is decorators.post_only
    assert decorators.DENIED and all(isinstance(message, Promise) for message in decorators.DENIED.values())


def test_post_only_answers_a_readable_405_to_a_get():
    response = decorators.post_only(reached)(get())
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert b"This address only takes form submissions." in response.content


def test_post_only_lets_a_post_through():
    assert decorators.post_only(reached)(get(method="post")).content == b"reached"


def test_entry_view_refuses_another_users_entry_with_its_message(make_user, make_entry):
    entry = make_entry(make_user())
    response = decorators.entry_view("can_edit")(reached)(get(user=make_user()), entry.pk)
    assert response.status_code == 403 and b"Only the owner and co-editors may change this entry." in response.content


def test_entry_view_sends_a_visitor_to_sign_in(make_user, make_entry):
    entry = make_entry(make_user())
    response = decorators.entry_view("can_view")(reached)(get(f"/entry/{entry.pk}"), entry.pk)
    assert response.status_code == 302 and "next=/entry/" in response["Location"]


def test_module_required_refuses_a_module_that_is_off(make_user):
    UploadModule.objects.update_or_create(pk=1, defaults={"enabled": False})
    response = decorators.module_required(UploadModule)(reached)(get(user=make_user(Role.ADMIN)))
    assert response.status_code == 403 and b"The Upload module is turned off on this portal." in response.content


def test_module_required_gives_the_view_its_module(make_user):
    UploadModule.objects.update_or_create(pk=1, defaults={"enabled": True, "allowed_roles": Role.PRIVATE_ONLY})
    request = get(user=make_user())
    assert decorators.module_required(UploadModule)(reached)(request).content == b"reached"
    assert request.module == UploadModule.load()
