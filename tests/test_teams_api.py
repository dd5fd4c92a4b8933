"""integrations/teams/api.py, where the sync's tests (tests/test_teams_sync.py) do not already go through it:
against the fake Microsoft Graph of tests/teams_fakes.py."""
from urllib.parse import unquote, urlsplit

import pytest

from integrations.teams import sync
from integrations.teams.models import Recording
from tests.teams_fakes import ANN, BOB, Lecture, discovered, sha, stored_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


def test_a_recording_listed_without_its_content_url_is_downloaded_from_its_meeting(integration, graph, ms,
                                                                                   portal_users):
    lecture = Lecture()
    del lecture.recording["recordingContentUrl"]  # Graph may leave it out of a listing
    ms.users = [ANN, BOB]
    ms.add_lecture(lecture)
    recording = discovered(integration, graph, ms)
    assert recording.content_url == ""

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY
    [download] = ms.content_requests()
    assert unquote(urlsplit(download.url).path) == lecture.content_path  # the recording's content in its meeting
    assert sha(stored_bytes(result.entry)) == sha(lecture.content)


GRAPH_CALLS = {"get", "post", "iter_pages", "stream", "download", "request"}


@pytest.mark.parametrize("module", ["sync.py", "connection.py", "preview.py", "owners.py", "participants.py"])
def test_the_engine_asks_microsoft_only_through_api(module):
    """api.py holds every call the Teams app makes (one function each); the engine never calls the client itself."""
    import ast
    from pathlib import Path

    source = (Path(sync.__file__).parent / module).read_text()
    direct = sorted({f"{node.func.value.id}.{node.func.attr}" for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and isinstance(node.func.value, ast.Name) and node.func.value.id == "graph"
                     and node.func.attr in GRAPH_CALLS})
    assert direct == []
