"""The local Microsoft simulator answers the real msal and Graph client over HTTPS, and the sync engine
ingests its recordings through them (in this process; the subprocess stack builds on the same server)."""
import hashlib

import pytest

from integrations.graph import GraphClient, GraphUnreachable, TokenError
from integrations.models import Recording, TeamsIntegration
from integrations.services import integration_check
from integrations.teams import connection, sync
from mediaspace.models import MediaEntry
from tests.simulator import Simulator

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Welcome.</v>\n"


@pytest.fixture
def sim(settings, monkeypatch):
    with Simulator() as simulator:
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = simulator.url
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_path)  # requests lets it override Session.verify
        monkeypatch.setattr(connection, "_providers", {})
        yield simulator


@pytest.fixture
def integration(sim, db):
    app = sim.add_app()
    return TeamsIntegration.objects.create(name="Simulated", tenant_id=sim.tenant_id, client_id=app.client_id,
                                           client_secret=app.secret, enabled=True, transcription=True)


def test_a_wrong_secret_is_refused_in_microsofts_words(sim, integration):
    integration.client_secret = "Sim8Q~wrong-secret-value"
    integration.save()
    with pytest.raises(TokenError) as refused:
        connection.token_provider_for(integration)()
    assert refused.value.error_codes == [7000215]


def test_test_connection_passes_against_the_simulator(sim, integration):
    sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    report = integration_check(integration=integration)
    assert report.ok, report.problem
    assert [check.ok for check in report.checks] == [True, True, True, None]  # no recording yet to bill


def test_users_page_along_next_link(sim, integration):
    for index in range(250):
        sim.add_user(f"user{index}@contoso.edu", f"User {index}")
    graph = connection.graph_for(integration)
    assert len(list(graph.iter_pages("/users", **{"$top": "100"}))) == 250
    assert len(sim.graph_requests()) == 3


def test_a_recording_is_ingested_through_https_with_its_transcript(sim, integration, make_user):
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    recording = sim.add_recording(organizer=ann, subject="Physics 101", size=3 * 1024 * 1024 + 17, transcript=VTT)
    queued = []

    assert sync.run(integration, queue=queued.append) == {"discovered": 1, "queued": 1}
    row = sync.ingest(queued[0])

    entry = row.entry
    assert (row.state, entry.status, entry.size) == (Recording.State.READY, MediaEntry.Status.READY, recording.size)
    expected = hashlib.sha256(b"".join(recording.content(0, recording.size - 1))).hexdigest()
    assert hashlib.sha256(entry.media.read()).hexdigest() == expected
    assert entry.captions.get().file.read().decode() == VTT
    assert entry.owner.username == "ann.lee@contoso.edu"


def test_cut_downloads_resume_and_store_the_same_bytes(sim, integration):
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    recording = sim.add_recording(organizer=ann, subject="Chemistry", size=4 * 1024 * 1024)
    sim.faults.cut_next = 1  # breaks off after 2 MiB: two whole chunks arrive
    queued = []
    sync.run(integration, queue=queued.append)

    row = sync.ingest(queued[0])

    expected = hashlib.sha256(b"".join(recording.content(0, recording.size - 1))).hexdigest()
    assert row.state == Recording.State.READY
    assert hashlib.sha256(row.entry.media.read()).hexdigest() == expected
    downloads = [status for _when, _method, path, status, _auth in sim.log if path.endswith("/content")]
    assert downloads == [200, 206]  # cut, then resumed where it stopped


def test_throttling_is_obeyed_and_everything_arrives(sim, integration):
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    for index in range(3):
        sim.add_recording(organizer=ann, subject=f"Lecture {index}", size=256 * 1024)
    sim.faults.throttle_ratio, sim.faults.retry_after = 0.3, 0
    slept = []
    graph = GraphClient(connection.token_provider_for(integration), sleep=slept.append, max_tries=10)
    queued = []

    sync.run(integration, graph=graph, queue=queued.append)
    rows = [sync.ingest(pk, graph=graph) for pk in queued]

    assert [row.state for row in rows] == [Recording.State.READY] * 3
    assert MediaEntry.objects.filter(status=MediaEntry.Status.READY).count() == 3
    assert any(status in (429, 503) for _when, _method, _path, status, _auth in sim.log)


def test_a_download_cut_every_time_gives_up(sim, integration):
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    recording = sim.add_recording(organizer=ann, subject="Never", size=2 * 1024 * 1024)
    sim.faults.cut_next = 1
    graph = connection.graph_for(integration)
    with pytest.raises(GraphUnreachable):
        url = sim._recording_json(recording)["recordingContentUrl"]
        with graph.stream(url) as download:
            b"".join(download)
