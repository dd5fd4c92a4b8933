"""The portal refuses to start without its secrets, and says how to make them."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

from mediaspace import encryption
from mediaspace.conf import DEFAULTS

REPO = Path(__file__).resolve().parent.parent


def manage_check(**env_overrides):
    env = {**os.environ, **env_overrides}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("name", ["FIELD_ENCRYPTION_KEY", "SECRET_KEY"])
def test_start_is_refused_without_a_secret(name):
    result = manage_check(**{name: ""})  # an empty value in the environment wins over .env
    assert result.returncode != 0
    assert f"{name} is not set" in result.stderr
    assert "make run" in result.stderr  # ...and it says how to get one


def test_an_invalid_encryption_key_is_reported_by_the_system_checks(settings):
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    assert [message.id for message in run_checks()] == ["mediaspace.E002"]


def test_an_unknown_default_role_is_reported_by_the_system_checks(settings):
    settings.MEDIASPACE_DEFAULT_ROLE = "superRole"
    assert [message.id for message in run_checks()] == ["mediaspace.E003"]


def test_a_broker_retry_not_above_the_task_timeout_is_reported_by_the_system_checks(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 3600, "retry": 3600}
    assert [message.id for message in run_checks()] == ["mediaspace.E005"]


def test_start_is_refused_with_an_invalid_encryption_key_in_the_words_of_the_system_check():
    # One rule (mediaspace.encryption): the stand-alone settings refuse the key as the check mediaspace.E002 would.
    result = manage_check(FIELD_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()}, not-a-fernet-key")
    assert result.returncode != 0
    assert encryption.INVALID in result.stderr and "make run" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


def test_several_keys_are_checked_each(settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), "not-a-fernet-key"]
    assert [message.id for message in run_checks()] == ["mediaspace.E002"]
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    assert run_checks() == []


def test_a_missing_encryption_key_is_reported_by_the_system_checks(settings):
    settings.FIELD_ENCRYPTION_KEY = []
    assert [message.id for message in run_checks()] == ["mediaspace.E001"]


# --- one source of settings: mediaspace/conf.py holds the apps' defaults, settings.py only adds the environment --


def settings_of_the_project(**env_overrides):
    """The apps' settings that the stand-alone settings module defines, and setting() for each, in a fresh process."""
    env = {name: value for name, value in os.environ.items() if name not in DEFAULTS}
    script = ("import json; from django.conf import settings; from mediaspace.conf import DEFAULTS, setting; "
              "print(json.dumps({'defined': {n: getattr(settings, n) for n in DEFAULTS if hasattr(settings, n)}, "
              "'read': {n: setting(n) for n in DEFAULTS}}))")
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=REPO,
                            env={**env, **env_overrides}, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_the_stand_alone_project_leaves_every_app_default_to_conf():
    values = settings_of_the_project()
    assert values["defined"] == {}
    assert values["read"] == DEFAULTS


def test_the_environment_sets_any_app_setting_with_the_default_s_type():
    values = settings_of_the_project(MEDIASPACE_PAGE_SIZE="7", TEAMS_SYNC_MINUTES="3",
                                     MICROSOFT_LOGIN_URL="https://login.example.test",
                                     MEDIASPACE_SITE_URL="https://portal.example.edu")
    assert values["defined"] == {"MEDIASPACE_PAGE_SIZE": 7, "TEAMS_SYNC_MINUTES": 3,
                                 "MICROSOFT_LOGIN_URL": "https://login.example.test",
                                 "MEDIASPACE_SITE_URL": "https://portal.example.edu"}
    assert values["read"] == {**DEFAULTS, **values["defined"]}


def test_env_example_names_every_app_setting_with_its_default():
    example = dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(\S*)", (REPO / ".env.example").read_text(), re.MULTILINE))
    assert {name: example.get(name) for name in DEFAULTS if name != "MEDIASPACE_SITE_URL"} == {
        name: str(default) for name, default in DEFAULTS.items() if name != "MEDIASPACE_SITE_URL"}
    assert "MEDIASPACE_SITE_URL" in example  # shown with an example: its default is empty


# A variable the stand-alone project or gunicorn reads from the environment, by name.
ENV_READ = re.compile(r"""(?:env(?:\.\w+)?\(|environ\.get\(|_int\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_env_example_names_every_variable_the_project_and_gunicorn_read():
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    read = {name for path in [*(REPO / "mediaspace" / "project").glob("*.py"), REPO / "gunicorn.conf.py"]
            for name in ENV_READ.findall(path.read_text())}
    assert {"SECRET_KEY", "GUNICORN_THREADS", "DATABASE_URL"} <= read  # the pattern sees both files
    assert sorted(read - example - {"PORT"}) == []  # PORT: the platform's (Heroku-style), not ours to set


# An app setting read from django.conf.settings itself (settings.NAME or getattr(settings, "NAME"...)).
APP_SETTING = re.compile(r"""(settings\.|getattr\(\s*settings\s*,\s*["'])"""
                         r"(MEDIASPACE|TEAMS|MICROSOFT|ONEDRIVE|HEALTHZ)_")


def test_every_app_setting_is_read_through_conf():
    readers = [f"{path.relative_to(REPO)}:{number}"
               for package in ("mediaspace", "integrations", "onedrive") for path in (REPO / package).rglob("*.py")
               if path.relative_to(REPO).as_posix() not in ("mediaspace/conf.py", "mediaspace/project/settings.py")
               for number, line in enumerate(path.read_text().splitlines(), 1) if APP_SETTING.search(line)]
    assert readers == []


def test_the_apps_need_nothing_from_the_stand_alone_project():
    importers = [str(path.relative_to(REPO)) for package in ("mediaspace", "integrations", "onedrive")
                 for path in (REPO / package).rglob("*.py") if "project" not in path.relative_to(REPO).parts
                 and re.search(r"^\s*(from|import)\s+mediaspace\.project\b|from mediaspace import project",
                               path.read_text(), re.MULTILINE)]
    assert importers == []
