"""Messages a user reads are marked for translation where they are written, so makemessages finds them."""
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils.functional import Promise

from mediaspace import decorators

REPO = Path(__file__).resolve().parent.parent


def test_the_denied_messages_are_lazy_translations():
    assert decorators.DENIED and all(isinstance(message, Promise) for message in decorators.DENIED.values())


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="makemessages needs GNU gettext")
def test_makemessages_finds_the_denied_messages(tmp_path, monkeypatch, settings):
    shutil.copy(REPO / "mediaspace" / "decorators.py", tmp_path / "decorators.py")
    (tmp_path / "locale").mkdir()
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)

    call_command("makemessages", locale=["fr"], no_wrap=True, verbosity=0)

    catalog = (tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text()
    for message in decorators.DENIED.values():
        assert f'msgid "{message}"' in catalog
