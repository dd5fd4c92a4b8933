"""Sizes are shown in one convention everywhere: binary units labelled KiB, MiB, GiB, as the limits are set."""
import pytest
from django.urls import reverse

from mediaspace.models import MediaEntry
from mediaspace.roles import Role
from mediaspace.sizes import readable_size

GIB_AND_A_HALF = 3 * 1024 ** 3 // 2


@pytest.mark.parametrize("size, shown", [
    (0, "0\xa0bytes"), (1, "1\xa0byte"), (1023, "1023\xa0bytes"), (1024, "1.0\xa0KiB"),
    (2_621_440, "2.5\xa0MiB"), (GIB_AND_A_HALF, "1.5\xa0GiB"), (2 * 1024 ** 4, "2.0\xa0TiB"),
])
def test_readable_size_uses_binary_units_with_their_own_labels(size, shown):
    assert readable_size(size) == shown


@pytest.fixture
def big_entry(make_user, make_entry):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner, name="Big lecture")
    MediaEntry.objects.filter(pk=entry.pk).update(size=GIB_AND_A_HALF)
    return owner, entry


@pytest.mark.parametrize("page", ["mediaspace:my_media", "mediaspace:entry"])
def test_the_portal_pages_show_a_size_in_gib(big_entry, client_for, page):
    owner, entry = big_entry
    args = [entry.pk] if page == "mediaspace:entry" else []
    text = client_for(owner).get(reverse(page, args=args)).content.decode()
    assert "1.5\xa0GiB" in text and "\xa0GB" not in text


def test_the_admin_media_list_shows_a_size_in_gib(big_entry, make_user, client_for):
    admin = make_user(is_staff=True, is_superuser=True)
    text = client_for(admin).get(reverse("admin:mediaspace_mediaentry_changelist")).content.decode()
    assert "1.5\xa0GiB" in text and "\xa0GB" not in text
