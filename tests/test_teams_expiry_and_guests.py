"""Issue 9: no recording lost to expiry (backfill choice, closest to expiry first, the at-risk view) and
guests stay guests (opt-in, and "Apply permissions to existing recordings" that shows before it changes)."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.teams import services
from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import participants, sync
from integrations.teams.connection import ConnectionReport
from mediaspace.models import Collaborator
from tests.microsoft import CLIENT_ID, TENANT_ID
from tests.teams_fakes import ANN, BOB, DAVE, EVE, GUEST_TENANT, Lecture, discover, discovered, participant, utc, window_start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


def granted(entry):
    return {row.user.username: (row.is_co_viewer, row.is_co_editor, row.is_co_publisher)
            for row in Collaborator.objects.filter(entry=entry).select_related("user")}


# -- guests stay guests ----------------------------------------------------------------------------------------


@pytest.fixture
def eve(make_user):
    return make_user(username="eve.guest", email="eve@fabrikam.example")


def ingest_one(integration, graph, ms, lecture):
    ms.users = [ANN]
    ms.add_lecture(lecture)
    return sync.ingest(discovered(integration, graph, ms).pk, graph=graph)


def eve_as_guest_attendee():
    guest = {**EVE, "userPrincipalName": "eve.guest@contoso.edu"}  # the rules would match her portal user
    return Lecture(attendees=[participant(BOB, "presenter"), participant(guest, "attendee", tenant=GUEST_TENANT)])


def test_a_guest_gets_no_permission_by_default(integration, graph, ms, portal_users, eve):
    result = ingest_one(integration, graph, ms, eve_as_guest_attendee())

    assert granted(result.entry) == {"bob.ray": (True, False, False)}
    assert [p["tenant"] for p in result.participants] == [TENANT_ID, GUEST_TENANT]  # kept on the ledger


def test_a_guest_gets_the_permission_when_the_integration_opts_in(integration, graph, ms, portal_users, eve):
    integration.guest_permissions = True
    integration.save()

    result = ingest_one(integration, graph, ms, eve_as_guest_attendee())

    assert granted(result.entry)["eve.guest"] == (False, False, True)


def test_applying_changed_settings_to_existing_recordings_shows_then_applies_exactly_that(
        integration, graph, ms, portal_users, eve, admin_client):
    result = ingest_one(integration, graph, ms, eve_as_guest_attendee())
    integration.presenter_permission = TeamsIntegration.Permission.CO_EDITORS
    integration.guest_permissions = True
    integration.save()
    url = reverse("admin:integrations_teamsintegration_permissions", args=[integration.pk])

    page = admin_client.get(url)
    assert (page.context["entries"], page.context["people"]) == (1, 2)
    assert granted(result.entry) == {"bob.ray": (True, False, False)}  # showing changes nothing
    text = page.content.decode()
    assert "co-viewer" in text and "co-editor" in text and "eve.guest" in text

    stale = admin_client.post(url, {"plan": "0" * 16})
    assert stale.status_code == 200 and granted(result.entry) == {"bob.ray": (True, False, False)}

    done = admin_client.post(url, {"plan": page.context["plan"]})
    assert done.status_code == 302
    assert granted(result.entry) == {"bob.ray": (False, True, False), "eve.guest": (False, False, True)}
    assert participants.plan(integration) == []


def test_turning_a_permission_off_and_applying_removes_it(integration, graph, ms, portal_users):
    result = ingest_one(integration, graph, ms, Lecture(attendees=[participant(BOB, "presenter")]))
    Collaborator.objects.create(entry=result.entry, user=portal_users["dave.kim"], is_co_viewer=True)  # by hand
    integration.presenter_permission = TeamsIntegration.Permission.NONE
    integration.save()

    participants.apply(participants.plan(integration))

    assert granted(result.entry) == {"dave.kim": (True, False, False)}  # not a participant: left alone


def test_identities_without_a_tenant_get_nothing_even_with_guests_allowed(integration, graph, ms, portal_users):
    integration.guest_permissions = True
    integration.save()

    result = ingest_one(integration, graph, ms, Lecture(attendees=[participant(DAVE, "attendee", tenant=None)]))

    assert granted(result.entry) == {}


# -- no recording lost to expiry -------------------------------------------------------------------------------


@pytest.fixture
def passing_check(monkeypatch):
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport())


@pytest.fixture
def fresh(db):
    return TeamsIntegration.objects.create(name="Fresh", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                           client_secret="x" * 40, recording_expiry_days=60)


def test_first_enable_offers_new_only_or_a_backfill_of_n_days(fresh, admin_client, passing_check):
    url = reverse("admin:integrations_teamsintegration_toggle", args=[fresh.pk])

    page = admin_client.get(url)
    assert "New recordings only" in page.content.decode() and 'max="60"' in page.content.decode()
    too_far = admin_client.post(url, {"status": "enable", "bring": "backfill", "days": "90"})
    assert too_far.status_code == 400 and not TeamsIntegration.objects.get().enabled

    before = timezone.now()
    assert admin_client.post(url, {"status": "enable", "bring": "backfill", "days": "30"}).status_code == 302
    fresh.refresh_from_db()
    assert fresh.enabled and fresh.backfill_days == 30
    assert before - timedelta(days=30, seconds=5) <= fresh.synced_until <= timezone.now() - timedelta(days=30)


def test_bulk_enable_asks_the_row_actions_question_before_enabling(fresh, admin_client, passing_check):
    other = TeamsIntegration.objects.create(name="Other", tenant_id=TENANT_ID, client_secret="x" * 40,
                                            client_id="11111111-2222-4333-8444-555555555555")
    watermark = timezone.now() - timedelta(days=3)
    again = TeamsIntegration.objects.create(name="Again", tenant_id=TENANT_ID, client_secret="x" * 40,
                                            client_id="22222222-2222-4333-8444-555555555555",
                                            backfill_days=0, synced_until=watermark)  # enabled before
    changelist = reverse("admin:integrations_teamsintegration_changelist")
    selected = {"action": "enable_selected", "_selected_action": [fresh.pk, other.pk, again.pk]}

    page = admin_client.post(changelist, {**selected, "index": "0"})
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count("New recordings only") == 2  # Fresh and Other, each with its own maximum; not Again
    assert 'max="60"' in text and 'max="120"' in text and "Again" in text
    assert not TeamsIntegration.objects.filter(enabled=True).exists()  # asking changes nothing

    confirm = {**selected, "post": "yes", f"integration-{fresh.pk}-bring": "backfill",
               f"integration-{fresh.pk}-days": "90", f"integration-{other.pk}-bring": "new"}
    too_far = admin_client.post(changelist, confirm)
    assert too_far.status_code == 400 and "less than or equal to 60" in too_far.content.decode()
    assert not TeamsIntegration.objects.filter(enabled=True).exists()

    before = timezone.now()
    done = admin_client.post(changelist, {**confirm, f"integration-{fresh.pk}-days": "30"}, follow=True)
    rows = {row.name: row for row in TeamsIntegration.objects.all()}
    assert {name: (row.enabled, row.backfill_days) for name, row in rows.items()} == {
        "Fresh": (True, 30), "Other": (True, 0), "Again": (True, 0)}
    assert before - timedelta(days=30, seconds=5) <= rows["Fresh"].synced_until <= timezone.now() - timedelta(days=30)
    assert rows["Again"].synced_until == watermark  # not the first time: where it stopped
    said = [str(message) for message in done.context["messages"]]
    assert any("Fresh" in message and "30 days" in message for message in said), said
    assert any("Other" in message and "new recordings only" in message for message in said), said


def test_new_only_starts_from_now_and_a_later_enable_keeps_the_watermark(fresh, passing_check):
    services.integration_enable(integration=fresh, backfill_days=0)
    watermark = fresh.synced_until
    assert fresh.backfill_days == 0 and timezone.now() - watermark < timedelta(seconds=5)

    services.integration_disable(integration=fresh)
    services.integration_enable(integration=fresh, backfill_days=45)  # not the first time: no effect
    fresh.refresh_from_db()
    assert (fresh.backfill_days, fresh.synced_until) == (0, watermark)


def test_a_backfill_round_asks_from_the_chosen_day(integration, graph, ms, passing_check):
    integration.enabled, integration.synced_until, integration.backfill_days = False, None, None
    integration.save()
    services.integration_enable(integration=integration, backfill_days=20)
    watermark = integration.synced_until
    ms.users = [ANN]

    discover(integration, graph)

    asked_from = utc(window_start(ms.batches()[0]))
    expected = watermark - timedelta(hours=24)  # and the usual look-back for late listings
    assert abs((asked_from - expected).total_seconds()) < 2


def make_row(integration, number, *, days_ago, state=Recording.State.DISCOVERED):
    return Recording.objects.create(
        integration=integration, recording_id=f"rec-{number}", meeting_id=f"meeting-{number}", organizer_id="o",
        organizer_upn="ann.lee@contoso.edu", recorded_at=timezone.now() - timedelta(days=days_ago), state=state,
        reason="Microsoft answered 503" if state == Recording.State.FAILED else "")


def test_recordings_are_queued_closest_to_expiry_first(integration):
    for number, days_ago in [(1, 3), (2, 100), (3, 50)]:
        make_row(integration, number, days_ago=days_ago)
    queued = []

    sync.queue_due(integration, queue=queued.append)

    assert [Recording.objects.get(pk=pk).recording_id for pk in queued] == ["rec-2", "rec-3", "rec-1"]


def test_the_at_risk_view_and_the_list_marker(integration, admin_client):
    integration.recording_expiry_days = 30
    integration.save()
    soon = make_row(integration, 1, days_ago=27, state=Recording.State.FAILED)
    make_row(integration, 2, days_ago=26)
    make_row(integration, 3, days_ago=28, state=Recording.State.READY)  # in the portal: safe
    make_row(integration, 4, days_ago=10)  # weeks left
    make_row(integration, 5, days_ago=31)  # gone already

    assert [row.recording_id for row in Recording.objects.at_risk()] == ["rec-1", "rec-2"]
    listing = admin_client.get(reverse("admin:integrations_teamsintegration_changelist")).content.decode()
    assert "2 recordings expire in Microsoft within 7 days and are not in the portal." in listing
    at_risk = admin_client.get(reverse("admin:integrations_recording_changelist"), {"expiry": "at_risk"})
    assert [row.recording_id for row in at_risk.context["cl"].result_list] == ["rec-1", "rec-2"]
    assert "Microsoft answered 503" in at_risk.content.decode()
    assert str(soon.recorded_at.year) in at_risk.content.decode()


@pytest.mark.parametrize("days", [1_000_000, 2_147_483_647])
def test_an_out_of_range_expiry_already_stored_breaks_neither_the_list_nor_the_ledger(integration, admin_client, days):
    make_row(integration, 1, days_ago=3)
    TeamsIntegration.objects.filter(pk=integration.pk).update(recording_expiry_days=days)  # past the form's check

    listing = admin_client.get(reverse("admin:integrations_teamsintegration_changelist"))
    ledger = admin_client.get(reverse("admin:integrations_recording_changelist"))
    at_risk = admin_client.get(reverse("admin:integrations_recording_changelist"), {"expiry": "at_risk"})
    edit = admin_client.get(reverse("admin:integrations_teamsintegration_change", args=[integration.pk]))

    assert [page.status_code for page in (listing, ledger, at_risk, edit)] == [200] * 4
    assert list(at_risk.context["cl"].result_list) == []  # centuries left: not at risk
    assert "expire in Microsoft" not in listing.content.decode()


def test_no_marker_when_nothing_is_at_risk(integration, admin_client):
    make_row(integration, 1, days_ago=1)

    listing = admin_client.get(reverse("admin:integrations_teamsintegration_changelist")).content.decode()

    assert "expire in Microsoft" not in listing and "expires in Microsoft" not in listing


def test_the_plan_reads_each_person_once_however_many_recordings(integration, portal_users, make_entry):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    people = [{"id": user_id, "upn": f"{name}@contoso.edu", "name": name, "tenant": TENANT_ID, "role": "presenter"}
              for user_id, name in [("id-bob", "bob.ray"), ("id-dave", "dave.kim")]]

    def with_recordings(count):
        for number in range(Recording.objects.count(), count):
            entry = make_entry(portal_users["ann.lee"], name=f"Lecture {number}")
            Recording.objects.create(integration=integration, recording_id=f"rec-{number}", meeting_id="m",
                                     organizer_id="o", state=Recording.State.READY, entry=entry, participants=people)
        with CaptureQueriesContext(connection) as queries:
            changes = participants.plan(integration)
        return len(changes), len(queries)

    few, many = with_recordings(2), with_recordings(12)

    assert (few[0], many[0]) == (4, 24) and few[1] == many[1]
