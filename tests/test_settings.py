"""The portal refuses to start without its secrets, and says how to make them."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

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
