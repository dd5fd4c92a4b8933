"""A wrong FIELD_ENCRYPTION_KEY is refused, never read as ciphertext (issue 13, item 3).

With a valid but different key the library hands the stored ciphertext to the code as if it were the secret;
a rename in the admin then saved it encrypted again and the secret was lost even after the right key came back.
Now reading raises, the database check (run by `migrate`, `check --database default`) and the web server's
start-up refuse, and `rotate_encryption_key` tells "under the first key" from "no key reads it".
"""
import io
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import Error, Tags, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from integrations.teams.models import TeamsIntegration
from onedrive.models import MicrosoftAccount, OneDriveModule, SignInRequest
from tests.microsoft import CLIENT_ID, TENANT_ID
from tests.secrets import assert_every_secret_reads, make_secrets
from tests.test_deploy import REPO, manage, production_env, raw
from tests.test_teams_admin import edit_data, url

WRONG_KEY = "holds a value that no key of FIELD_ENCRYPTION_KEY decrypts"


def write_raw(model, field, pk, value):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {field} = %s WHERE id = %s", [value, pk])


@pytest.mark.django_db
def test_reading_a_value_under_another_key_raises_instead_of_giving_the_ciphertext(keys, make_user):
    right, wrong = Fernet.generate_key(), Fernet.generate_key()
    keys(right)
    make_secrets(make_user)
    keys(wrong)
    for label, read in [("integrations.TeamsIntegration.client_secret", lambda: TeamsIntegration.objects.get()),
                        ("onedrive.OneDriveModule.client_secret", lambda: OneDriveModule.objects.get()),
                        ("onedrive.MicrosoftAccount.access_token", lambda: MicrosoftAccount.objects.get()),
                        ("onedrive.MicrosoftAccount.refresh_token",
                         lambda: MicrosoftAccount.objects.defer("access_token").get().refresh_token),
                        ("onedrive.SignInRequest.code_flow", lambda: SignInRequest.objects.get())]:
        with pytest.raises(ImproperlyConfigured, match=WRONG_KEY) as error:
            read()
        assert label in str(error.value) and "rotate_encryption_key" in str(error.value)

    keys(right)  # the right key again: everything reads
    assert_every_secret_reads()


@pytest.mark.django_db
def test_empty_and_null_values_read_under_any_key(keys, make_user):
    keys(Fernet.generate_key())
    account = MicrosoftAccount.objects.create(user=make_user(), tenant_id=TENANT_ID, object_id="oid",
                                              application_id=CLIENT_ID, access_token="access-1", refresh_token="",
                                              expires_at=timezone.now())
    assert MicrosoftAccount.objects.get().refresh_token == ""
    write_raw(MicrosoftAccount, "refresh_token", account.pk, "")  # stored unencrypted: an empty value
    keys(Fernet.generate_key())
    assert MicrosoftAccount.objects.values_list("refresh_token", flat=True).get() == ""


@pytest.mark.django_db
def test_renaming_an_integration_under_the_wrong_key_fails_and_keeps_the_secret(keys, make_user, client_for):
    right, wrong = Fernet.generate_key(), Fernet.generate_key()
    keys(right)
    integration = TeamsIntegration.objects.get(pk=make_secrets(make_user)[0][2])
    data = edit_data(integration, name="Contoso (renamed)")
    before = raw(TeamsIntegration, "client_secret", integration.pk)
    admin = client_for(make_user(username="root", is_staff=True, is_superuser=True))

    keys(wrong)
    with pytest.raises(ImproperlyConfigured, match=WRONG_KEY):
        admin.post(url("change", integration.pk), data)
    assert raw(TeamsIntegration, "client_secret", integration.pk) == before  # not encrypted again

    keys(right)
    assert TeamsIntegration.objects.get().client_secret == "teams-secret"
    admin.post(url("change", integration.pk), data)  # under the right key the rename works
    assert TeamsIntegration.objects.get().name == "Contoso (renamed)"
    assert TeamsIntegration.objects.get().client_secret == "teams-secret"


def database_errors():
    return [message for message in run_checks(tags=[Tags.database], databases=["default"])
            if message.id == "mediaspace.E004"]


@pytest.mark.django_db
def test_the_database_check_names_every_column_no_key_reads(keys, make_user):
    right, wrong = Fernet.generate_key(), Fernet.generate_key()
    keys(right)
    make_secrets(make_user)
    assert database_errors() == []

    keys(wrong)
    errors = database_errors()
    assert all(isinstance(error, Error) for error in errors)
    assert sorted(error.obj for error in errors) == [
        "integrations.TeamsIntegration.client_secret", "onedrive.MicrosoftAccount.access_token",
        "onedrive.MicrosoftAccount.refresh_token", "onedrive.OneDriveModule.client_secret",
        "onedrive.SignInRequest.code_flow"]
    assert "FIELD_ENCRYPTION_KEY is wrong" in errors[0].msg
    assert "restore the key" in errors[0].hint.lower() and "rotate_encryption_key" in errors[0].hint
    # Without --database (runserver's and qcluster's own checks, makemigrations) the database is not read.
    assert [m for m in run_checks() if m.id == "mediaspace.E004"] == []


@pytest.mark.django_db
def test_rotation_refuses_a_value_encrypted_twice_and_repairs_it_with_the_old_key(keys):
    """What the rename did before the fix: the ciphertext of key A, encrypted again under the wrong key B."""
    a, b = Fernet.generate_key(), Fernet.generate_key()
    keys(a)
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="teams-secret")
    damaged = Fernet(b).encrypt(raw(TeamsIntegration, "client_secret", integration.pk).encode()).decode()
    write_raw(TeamsIntegration, "client_secret", integration.pk, damaged)

    keys(b)  # the wrong key alone: not "already under the first key"
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="could not be read with any key"):
        call_command("rotate_encryption_key", stdout=out, stderr=err)
    assert "already under the first key" not in out.getvalue().replace("0 already under the first key", "")
    assert "encrypted twice" in err.getvalue()
    assert raw(TeamsIntegration, "client_secret", integration.pk) == damaged  # untouched

    keys(a, b)  # the right key first, the wrong one after it: the damage is undone
    call_command("rotate_encryption_key", stdout=io.StringIO())
    keys(a)
    assert TeamsIntegration.objects.get().client_secret == "teams-secret"


def start_web(env):
    """What gunicorn and runserver do first: load the WSGI application."""
    return subprocess.run([sys.executable, "-c", "import mediaspace.project.wsgi"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def start_worker(env):
    """The Procfile's worker line, as honcho or Heroku runs it."""
    line = next(line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    return subprocess.run(["sh", "-c", line.removeprefix("worker:")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_migrate_check_and_the_servers_refuse_to_start_with_the_wrong_key(tmp_path):
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = production_env(tmp_path, FIELD_ENCRYPTION_KEY=right)
    result = manage(env, "migrate", "--noinput")  # a fresh database: nothing to probe yet
    assert result.returncode == 0, result.stdout + result.stderr
    script = ("from integrations.teams.models import TeamsIntegration as T; T.objects.create(name='Contoso', "
              f"tenant_id='{TENANT_ID}', client_id='{CLIENT_ID}', client_secret='teams-secret')")
    assert manage(env, "shell", "--no-imports", "-c", script).returncode == 0
    wrong_env = {**env, "FIELD_ENCRYPTION_KEY": wrong}
    for result in (manage(wrong_env, "check", "--database", "default"), manage(wrong_env, "migrate", "--noinput")):
        assert result.returncode != 0
        assert "mediaspace.E004" in result.stderr and "integrations.TeamsIntegration.client_secret" in result.stderr
    result = start_web(wrong_env)
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEY is wrong" in result.stderr
    result = start_worker(wrong_env)  # refused before the cluster starts (which would not return)
    assert result.returncode != 0 and "mediaspace.E004" in result.stderr

    for result in (manage(env, "check", "--database", "default"), manage(env, "migrate", "--noinput"),
                   start_web(env)):
        assert result.returncode == 0, result.stdout + result.stderr
