"""Upgrading an existing portal: what the migrations do to rows written by earlier versions."""
import importlib
import uuid

import pytest
from django.apps import apps
from django_q.models import Schedule

from integrations.microsoft.errors import GraphError
from integrations.teams import diagnosis
from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams.owners import TeamsUser, resolve_owner
from tests.microsoft import CLIENT_ID, TENANT_ID

moved_tasks = importlib.import_module("integrations.teams.migrations.0008_tasks_moved_to_teams_package")


def test_schedules_stored_under_the_old_tasks_path_follow_the_tasks_into_the_teams_package(db):
    Schedule.objects.create(name="old sync", func="integrations.tasks.sync_all", schedule_type=Schedule.MINUTES)
    Schedule.objects.create(name="other", func="onedrive.tasks.requeue_stalled", schedule_type=Schedule.MINUTES)

    moved_tasks.follow(moved_tasks.OLD, moved_tasks.NEW)(apps, None)

    assert Schedule.objects.get(name="old sync").func == "integrations.teams.tasks.sync_all"
    assert Schedule.objects.get(name="other").func == "onedrive.tasks.requeue_stalled"
    func = Schedule.objects.get(name="old sync").func
    module, name = func.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))


owner_rule_migration = importlib.import_module("integrations.teams.migrations.0009_recording_owner_rule")


@pytest.mark.django_db
def test_ledger_rows_written_before_the_owner_rule_field_get_it_from_their_reason(make_user):
    """Each outcome of the owner rules, with the reason the sync wrote for it (and a note after it), read back
    by the migration as the rule the sync now stores."""
    integration = TeamsIntegration.objects.create(
        name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID, client_secret="x" * 40,
        upn_rule=TeamsIntegration.UpnRule.REMOVE_POSTFIX, postfix="@example.com",
        find_user_by=TeamsIntegration.FindUserBy.BOTH)
    make_user(username="found.one")
    make_user(username="twin", email="other@example.org")
    make_user(username="twin.b", email="twin@mail.example.org")
    archive = make_user(username="teams.archive")
    expected = {}

    def row(upn, mail="", **rules):
        for name, value in rules.items():
            setattr(integration, name, value)
        owner = resolve_owner(integration, TeamsUser(id=upn, upn=upn, display_name="A Person", mail=mail))
        reason = [*owner.steps, *([owner.problem] if owner.problem else []), "E-mailed someone about it."]
        recording = Recording.objects.create(integration=integration, recording_id=f"rec-{len(expected)}",
                                             meeting_id="m", organizer_id=upn, reason="\n".join(reason))
        expected[recording.pk] = owner.rule

    row("found.one@example.com")
    row("new.person@example.com", missing_user=TeamsIntegration.MissingUser.CREATE)
    row("no name!@example.com")
    row("twin@example.com", "twin@mail.example.org", default_user=None)
    row("nobody@example.com", missing_user=TeamsIntegration.MissingUser.DEFAULT)
    row("twin@example.com", "twin@mail.example.org", default_user=archive)
    row("nobody@example.com")
    unrelated = Recording.objects.create(integration=integration, recording_id="x", meeting_id="m",
                                         organizer_id="x", reason="Microsoft could not be reached.")
    assert set(expected.values()) == set(Recording.OwnerRule) - {Recording.OwnerRule.NONE}  # every outcome
    Recording.objects.update(owner_rule="")  # as before the migration

    owner_rule_migration.fill(apps, None)

    assert dict(Recording.objects.exclude(pk=unrelated.pk).values_list("pk", "owner_rule")) == expected
    assert Recording.objects.get(pk=unrelated.pk).owner_rule == Recording.OwnerRule.NONE


error_kind_migration = importlib.import_module("integrations.teams.migrations.0010_integration_last_error_code")


@pytest.mark.django_db
def test_integrations_marked_before_the_error_kind_field_get_it_from_their_message():
    """Every problem the portal can mark an integration with, stored as its words only, is read back by the
    migration as the kind the code now stores with it."""
    problems = [diagnosis.Problem.of(code) for code in diagnosis.MESSAGES]
    problems += [diagnosis.missing_permission(diagnosis.TRANSCRIPT_PERMISSION),
                 diagnosis.explain(GraphError("Service unavailable", status=503))]
    assert {problem.code for problem in problems} == {
        value for name, value in vars(diagnosis.Code).items() if not name.startswith("_")}  # every kind
    marked = {TeamsIntegration.objects.create(name=f"Contoso {n}", tenant_id=TENANT_ID, client_id=str(uuid.uuid4()),
                                              client_secret="x" * 40, last_error=problem.message).pk: problem.code
              for n, problem in enumerate(problems)}
    healthy = TeamsIntegration.objects.create(name="Healthy", tenant_id=TENANT_ID, client_id=str(uuid.uuid4()),
                                              client_secret="x" * 40)

    error_kind_migration.fill(apps, None)

    assert dict(TeamsIntegration.objects.filter(pk__in=marked).values_list("pk", "last_error_code")) == marked
    assert TeamsIntegration.objects.get(pk=healthy.pk).last_error_code == ""
