"""The OneDrive module against the local Microsoft simulator: sign-in (implicit grant and code flow), the
picker, and imports, with the portal's own views and tasks (the queue is run by hand)."""
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.microsoft import openid
from mediaspace.models import MediaEntry
from mediaspace.roles import Role
from onedrive import drive, imports, signin, tasks
from onedrive.models import MicrosoftAccount, OneDriveModule, SignInRequest
from tests.simulator import sign_in

REDIRECT = "http://testserver/onedrive/index/blank-page"
CLIP = (Path(__file__).parent / "fixtures" / "media" / "clip.webm").read_bytes()
PICKER = reverse("onedrive:picker")


@pytest.fixture(autouse=True)
def fresh_keys():
    openid.signing_keys.clear()  # keys are per simulator run


@pytest.fixture
def portal_app(sim):
    return sim.add_app(secret=False, redirect_uris=[REDIRECT], name="KMS onedrive integration")


@pytest.fixture
def module(db, portal_app):
    module = OneDriveModule.load()
    module.enabled, module.application_id = True, portal_app.client_id
    module.save()
    return module


@pytest.fixture
def ann(sim):
    return sim.add_user("ann.lee@contoso.edu", "Ann Lee")


@pytest.fixture
def drive_of_ann(sim, ann):
    return {
        "lecture": sim.add_file(ann, "Videos/Lecture 1.webm", data=CLIP),
        "intro": sim.add_file(ann, "Videos/Intro.mp4", 300_000),
        "podcast": sim.add_file(ann, "Audio/Podcast.mp3", 200_000),
        "notes": sim.add_file(ann, "Videos/Notes.pdf", 5_000),
        "deep": sim.add_file(ann, "Videos/2024/Spring/Talk.mov", 1_000),
    }


@pytest.fixture
def queued(monkeypatch):
    """Tasks queued by the views, run by `run_queued()` as the cluster would."""
    jobs = []
    monkeypatch.setattr(imports, "async_task", lambda func, *args, **kwargs: jobs.append((func, args)))

    def run_queued():
        done = []
        while jobs:
            func, args = jobs.pop(0)
            assert func == "onedrive.tasks.import_file"
            done.append(tasks.import_file(*args))
        return done

    run_queued.jobs = jobs
    return run_queued


@pytest.fixture
def member(make_user, client_for):
    user = make_user(username="ann", role=Role.PRIVATE_ONLY)
    return user, client_for(user)


def microsoft_answer(client, upn, next_url=PICKER, **form):
    """Start sign-in in the portal, sign in on Microsoft's page; Microsoft's redirect back, as fields."""
    started = client.get(reverse("onedrive:signin"), {"next": next_url})
    assert started.status_code == 302, started.content
    answer = sign_in(started["Location"], upn, **form)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(parse_qsl(location.fragment or location.query))


def signed_in(client, upn="ann.lee@contoso.edu", next_url=PICKER):
    """The whole implicit sign-in: Microsoft's fragment relayed by the blank page's POST."""
    fields = microsoft_answer(client, upn, next_url)
    done = client.post(reverse("onedrive:blank_page"), fields)
    assert done.status_code == 302, done.content.decode()
    return done


def listed_names(response):
    return [entry.name for entry in response.context["listing"].entries]


# -- sign-in -------------------------------------------------------------------------------------------------


def test_the_seed_setup_signs_in_with_the_implicit_grant_and_keeps_the_token_on_the_server(
        module, ann, member, sim):
    user, client = member
    first = client.get(PICKER)
    assert first.status_code == 302 and first["Location"].startswith(reverse("onedrive:signin"))

    started = client.get(first["Location"])
    authorize = dict(parse_qsl(urlsplit(started["Location"]).query))
    assert authorize["response_type"] == "id_token token" and authorize["redirect_uri"] == REDIRECT
    assert set(authorize["scope"].split()) == {"openid", "profile", "User.Read", "Files.Read.All"}
    assert authorize["client_id"] == module.application_id and len(authorize["state"]) >= 32

    relay = client.get(reverse("onedrive:blank_page"))
    assert relay.status_code == 200 and b"relay.js" in relay.content  # the fragment is read by the browser
    fields = dict(parse_qsl(urlsplit(sign_in(started["Location"], ann.upn).headers["Location"]).fragment))
    done = client.post(reverse("onedrive:blank_page"), fields)

    assert done.status_code == 302 and done["Location"] == PICKER
    account = MicrosoftAccount.objects.get(user=user)
    assert (account.username, account.tenant_id, account.object_id) == (ann.upn, sim.tenant_id, ann.id)
    assert account.access_token == fields["access_token"] and not account.refresh_token
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM onedrive_microsoftaccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert raw and fields["access_token"] not in raw  # encrypted at rest
    picker = client.get(PICKER)
    assert picker.status_code == 200 and fields["access_token"] not in picker.content.decode()
    assert "access_token" not in client.cookies and fields["access_token"] not in str(client.cookies)


def test_the_code_flow_with_a_secret_uses_pkce_and_refreshes(module, ann, member, sim):
    web = sim.add_app(redirect_uris=[REDIRECT])
    module.application_id, module.client_secret = web.client_id, web.secret
    module.save()
    user, client = member

    fields = microsoft_answer(client, ann.upn)
    authorize = dict(parse_qsl(urlsplit(client.get(reverse("onedrive:signin"))["Location"]).query))
    assert authorize["response_type"] == "code" and authorize["code_challenge_method"] == "S256"
    done = client.get(reverse("onedrive:blank_page"), fields)  # the code comes back in the query

    assert done.status_code == 302, done.content.decode()
    account = MicrosoftAccount.objects.get(user=user)
    assert account.refresh_token
    old_token = account.access_token
    MicrosoftAccount.objects.filter(pk=account.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sim.add_file(ann, "clip.webm", data=CLIP)

    listing = client.get(PICKER)

    assert listing.status_code == 200 and listed_names(listing) == ["clip.webm"]
    account.refresh_from_db()
    assert account.access_token != old_token and account.expires_at > timezone.now()


def test_an_expired_sign_in_goes_through_microsoft_again_and_back_to_the_same_folder(
        module, ann, member, drive_of_ann, sim):
    user, client = member
    signed_in(client)
    videos = drive_of_ann["lecture"].parent
    MicrosoftAccount.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    again = client.get(PICKER, {"folder": videos.id})
    assert again.status_code == 302 and again["Location"].startswith(reverse("onedrive:signin"))
    back = signed_in(client, next_url=dict(parse_qsl(urlsplit(again["Location"]).query))["next"])

    assert back["Location"] == f"{PICKER}?folder={videos.id}"
    assert "Lecture 1.webm" in listed_names(client.get(back["Location"]))


def test_a_token_revoked_at_microsoft_sends_the_user_to_sign_in_again(module, ann, member, drive_of_ann, sim):
    user, client = member
    signed_in(client)
    sim.sign_out(ann)

    answer = client.get(PICKER)

    assert answer.status_code == 302 and answer["Location"].startswith(reverse("onedrive:signin"))


# -- callback cases ------------------------------------------------------------------------------------------


def problem(response):
    assert response.status_code == 400, response.status_code
    return response.context["message"]


def test_cancel_at_microsoft_says_what_happened(module, ann, member):
    user, client = member
    fields = microsoft_answer(client, ann.upn, cancel="1")

    message = problem(client.post(reverse("onedrive:blank_page"), fields))

    assert fields["error"] == "access_denied" and "cancelled" in message
    assert not MicrosoftAccount.objects.exists()


def test_a_missing_state_is_refused(module, ann, member):
    user, client = member
    fields = microsoft_answer(client, ann.upn)
    del fields["state"]

    assert "no state" in problem(client.post(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


def test_a_replayed_answer_is_refused(module, ann, member):
    user, client = member
    fields = microsoft_answer(client, ann.upn)
    assert client.post(reverse("onedrive:blank_page"), fields).status_code == 302
    MicrosoftAccount.objects.all().delete()

    assert "already used" in problem(client.post(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


def test_a_state_issued_to_another_user_is_refused(module, ann, member, make_user, client):
    user, ann_client = member
    fields = microsoft_answer(ann_client, ann.upn)
    mallory = make_user(username="mallory")
    client.force_login(mallory)

    assert "does not belong" in problem(client.post(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


def test_an_old_state_is_refused(module, ann, member):
    user, client = member
    fields = microsoft_answer(client, ann.upn)
    SignInRequest.objects.update(created=timezone.now() - timedelta(hours=1))

    assert "expired" in problem(client.post(reverse("onedrive:blank_page"), fields))


def test_a_user_holds_a_few_open_sign_ins_and_unused_ones_end_with_their_15_minutes(module, ann, member, make_user):
    user, client = member
    other = make_user(username="bob")
    SignInRequest.objects.create(user=other, state="bob-state", nonce="n", application_id=module.application_id,
                                 redirect_uri=REDIRECT)
    for _ in range(40):
        client.get(reverse("onedrive:signin"))

    assert SignInRequest.objects.filter(user=user).count() == signin.MAX_SIGN_INS
    assert signed_in(client).status_code == 302  # the newest still completes
    assert SignInRequest.objects.filter(user=other).count() == 1  # nobody else's are touched

    SignInRequest.objects.filter(user=user).update(created=timezone.now() - timedelta(minutes=16))
    client.get(reverse("onedrive:signin"))

    # The expired unused ones are gone; the used one stays its day, so that a replay is told "already used".
    assert SignInRequest.objects.filter(user=user, used__isnull=True).count() == 1
    assert SignInRequest.objects.filter(user=user, used__isnull=False).count() == 1


def test_sign_ins_used_at_once_do_not_grow_without_end_either(module, member):
    """Starting a sign-in and answering it with any state-bearing POST (a made-up error) marks it used, and a
    used one is kept a day: the cap on a user's sign-ins counts those too."""
    user, client = member
    for _ in range(30):
        state = dict(parse_qsl(urlsplit(client.get(reverse("onedrive:signin"))["Location"]).query))["state"]
        client.post(reverse("onedrive:blank_page"), {"state": state, "error": "access_denied"})

    assert SignInRequest.objects.filter(user=user).count() <= signin.MAX_SIGN_INS
    assert "already used" in problem(client.post(reverse("onedrive:blank_page"),
                                                 {"state": state, "error": "access_denied"}))


@pytest.mark.parametrize("error, description, expected", [
    ("consent_required", "AADSTS65001: The user or administrator has not consented to use the application.",
     "administrator to approve"),
    ("invalid_request", "AADSTS50011: The redirect URI 'http://testserver/x' specified in the request does not "
                        "match the redirect URIs configured for the application.", REDIRECT),
    ("unsupported_response_type", "AADSTS700054: response_type 'id_token' is not enabled for the application.",
     "“ID tokens”"),
    ("temporarily_unavailable", "AADSTS90033: A transient error has occurred.", "AADSTS90033"),
])
def test_microsoft_errors_get_a_page_that_says_what_to_do(module, ann, member, error, description, expected):
    user, client = member
    state = microsoft_answer(client, ann.upn)["state"]

    response = client.get(reverse("onedrive:blank_page"), {"error": error, "error_description": description,
                                                           "state": state})

    assert expected in problem(response)
    assert "Trace ID" not in response.content.decode()


def tampered(fields, **claims):
    """The ID token with claims changed, signed with another key."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    payload = {**jwt.decode(fields["id_token"], options={"verify_signature": False}), **claims}
    header = jwt.get_unverified_header(fields["id_token"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {**fields, "id_token": jwt.encode(payload, key, algorithm="RS256", headers={"kid": header["kid"]})}


@pytest.mark.parametrize("change, expected", [
    (lambda fields: tampered(fields), "signature"),
    (lambda fields: tampered(fields, nonce="another"), "signature"),
    (lambda fields: {**fields, "id_token": "not.a.token"}, "not readable"),
    (lambda fields: {**fields, "id_token": ""}, "no access token or no ID token"),
    (lambda fields: {**fields, "token_type": "mac"}, "could not be read"),
])
def test_an_id_token_that_does_not_verify_is_refused(module, ann, member, change, expected):
    user, client = member
    fields = change(microsoft_answer(client, ann.upn))

    assert expected in problem(client.post(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


def test_a_lifetime_too_long_to_be_a_date_is_a_clear_400_not_a_500(module, ann, member):
    user, client = member
    fields = {**microsoft_answer(client, ann.upn), "expires_in": "99999999999999"}

    assert "could not be read" in problem(client.post(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


def test_the_debug_page_never_shows_the_tokens_or_the_code(module, ann, member, settings, monkeypatch):
    """As with `make run` (DEBUG=true): a failure after the answer arrived gives Django's technical 500 page,
    which shows neither the POSTed tokens and code nor the local variables that hold them."""
    settings.DEBUG = True
    user, client = member
    fields = {**microsoft_answer(client, ann.upn), "code": "M.C507_BAY." + "7" * 24}

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(MicrosoftAccount.objects, "update_or_create", fail)
    client.raise_request_exception = False
    response = client.post(reverse("onedrive:blank_page"), fields)
    page = response.content.decode()

    assert response.status_code == 500 and "the database went away" in page  # the real debug page
    assert "access_token" in page and "Local vars" in page  # the parameters and locals are listed, blanked
    assert fields["access_token"] not in page and fields["id_token"] not in page and fields["code"] not in page


def test_the_debug_page_never_shows_the_code_that_came_in_the_query(module, ann, member, sim, settings,
                                                                      monkeypatch):
    web = sim.add_app(redirect_uris=[REDIRECT])
    module.application_id, module.client_secret = web.client_id, web.secret
    module.save()
    settings.DEBUG = True
    user, client = member
    fields = microsoft_answer(client, ann.upn)

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(MicrosoftAccount.objects, "update_or_create", fail)
    client.raise_request_exception = False
    response = client.get(reverse("onedrive:blank_page"), fields)  # the code flow's answer is in the query
    page = response.content.decode()

    assert response.status_code == 500 and "the database went away" in page and "QUERY_STRING" in page
    assert fields["code"] not in page and fields["state"] in page  # only the marked parameters are blanked


def test_nonce_audience_issuer_expiry_and_at_hash_are_checked(module, ann, sim, portal_app):
    token = sim.user_token(ann, portal_app)
    from tests.simulator import identity
    base = sim.url

    def id_token(**changes):
        claims = jwt.decode(identity.id_token(base, ann, portal_app.client_id, nonce="n-1", access_token=token),
                            options={"verify_signature": False})
        return identity.signing_key().sign({**claims, **changes})

    def verify(token_text, **options):
        return signin.verify_id_token(token_text, client_id=portal_app.client_id, tenant=options.get(
            "tenant", "organizations"), nonce=options.get("nonce", "n-1"), access_token=options.get("access", token))

    assert verify(id_token())["oid"] == ann.id
    for bad, why in [(id_token(nonce="n-2"), "does not answer"), (id_token(aud="another-app"), "another app"),
                     (id_token(iss=f"{base}/other/v2.0"), "unexpected issuer"),
                     (id_token(exp=1_000_000_000), "expired")]:
        with pytest.raises(signin.SignInProblem, match=why):
            verify(bad)
    with pytest.raises(signin.SignInProblem, match="does not belong"):
        verify(id_token(), access="another access token")
    with pytest.raises(signin.SignInProblem, match="one organisation"):
        verify(id_token(), tenant="00000000-0000-0000-0000-000000000001")


# -- the picker ----------------------------------------------------------------------------------------------


def test_browse_into_folders_go_up_and_search(module, ann, member, drive_of_ann):
    user, client = member
    signed_in(client)

    root = client.get(PICKER)
    videos_id = drive_of_ann["lecture"].parent.id
    videos = client.get(PICKER, {"folder": videos_id})
    spring = drive_of_ann["deep"].parent
    client.get(PICKER, {"folder": spring.parent.id})
    deep = client.get(PICKER, {"folder": spring.id})
    found = client.get(PICKER, {"q": "podcast"})
    nothing = client.get(PICKER, {"q": "no such words"})

    assert listed_names(root) == ["Videos", "Audio"]
    rows = {entry.name: entry for entry in videos.context["listing"].entries}
    assert set(rows) == {"Lecture 1.webm", "Intro.mp4", "Notes.pdf", "2024"}
    assert rows["Lecture 1.webm"].importable and rows["Intro.mp4"].kind == "video"
    assert not rows["Notes.pdf"].importable and "Not a video" in rows["Notes.pdf"].refusal
    page = videos.content.decode()
    assert f'value="{rows["Intro.mp4"].key}"' in page and f'value="{rows["Notes.pdf"].key}"' not in page
    assert deep.context["listing"].breadcrumb == [(videos_id, "Videos"), (spring.parent.id, "2024")]
    assert deep.context["listing"].parent_id == spring.parent.id
    assert f'href="?folder={videos_id}"' in deep.content.decode()
    assert listed_names(found) == ["Podcast.mp3"] and "Nothing in your OneDrive matches" in nothing.content.decode()


def test_large_folders_are_paged_with_links_kept_on_the_server(module, ann, member, sim):
    user, client = member
    for number in range(230):
        sim.add_file(ann, f"Big/clip {number:03}.mp4", 10)
    signed_in(client)
    big = drive.ID.match(sim.drive_root(ann).children[0].id).group(0)

    first = client.get(PICKER, {"folder": big})
    second = client.get(first.context["next_url"])
    third = client.get(second.context["next_url"])
    asked_before = len(sim.log)
    forged = client.get(PICKER, {"folder": big, "page": "https://evil.example/steal"})

    names = listed_names(first) + listed_names(second) + listed_names(third)
    assert names == [f"clip {number:03}.mp4" for number in range(230)] and not third.context["next_url"]
    assert "skiptoken" not in first.content.decode() and sim.url not in first.content.decode()
    assert forged.status_code == 302 and forged["Location"] == f"{PICKER}?folder={big}"
    assert len(sim.log) == asked_before  # a page the session does not hold is refused before Microsoft is asked


def test_bad_picker_input_gets_a_message_and_no_500(module, ann, member, drive_of_ann):
    user, client = member
    signed_in(client)

    back_to_the_drive = (302, PICKER)  # a folder or page that is not one: back to the top of the drive
    for query, answer in [({"folder": "../../me"}, back_to_the_drive), ({"folder": "01UNKNOWN"}, back_to_the_drive),
                          ({"folder": drive_of_ann["intro"].id}, back_to_the_drive),
                          ({"page": "x" * 500}, back_to_the_drive), ({"q": "'" * 300}, (200, None))]:
        response = client.get(PICKER, query)
        assert (response.status_code, response.get("Location")) == answer, query


# -- imports -------------------------------------------------------------------------------------------------


def selected(*items):
    return {"item": [f"{item.owner.drive_id}/{item.id}" for item in items], "back": PICKER}


def test_import_creates_pending_entries_then_the_tasks_make_them_ready(module, ann, member, drive_of_ann, queued,
                                                                         sim):
    user, client = member
    signed_in(client)
    picked = [drive_of_ann["lecture"], drive_of_ann["intro"], drive_of_ann["podcast"]]

    answer = client.post(reverse("onedrive:import"), selected(*picked))
    pending = list(MediaEntry.objects.order_by("pk").values_list("name", "status", "source"))
    results = queued()

    assert answer.status_code == 302 and answer["Location"] == reverse("mediaspace:my_media")
    assert pending == [("Lecture 1", "pending", "onedrive"), ("Intro", "pending", "onedrive"),
                       ("Podcast", "pending", "onedrive")]
    assert results == ["ready"] * 3
    lecture = MediaEntry.objects.get(name="Lecture 1")
    assert lecture.media.read() == CLIP and lecture.content_type == "video/webm" and lecture.owner == user
    intro = MediaEntry.objects.get(name="Intro")
    assert intro.size == 300_000 and intro.media.read() == b"".join(drive_of_ann["intro"].content())
    assert lecture.reference_id == f"{user.pk}/{ann.drive_id}/{drive_of_ann['lecture'].id}"
    downloads = [request for request in sim.log if request.path.startswith("/download/")]
    assert len(downloads) == 3 and not any(request.authorized for request in downloads)


def test_importing_the_same_file_twice_gives_one_entry(module, ann, member, drive_of_ann, queued):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    queued()

    again = client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"], drive_of_ann["intro"]))

    assert MediaEntry.objects.count() == 1 and not queued.jobs
    assert again.status_code == 302


def test_a_pdf_a_folder_or_a_forged_key_cannot_be_imported(module, ann, member, drive_of_ann, queued):
    user, client = member
    signed_in(client)
    folder = drive_of_ann["lecture"].parent

    for data in [selected(drive_of_ann["notes"]), selected(folder),
                 {"item": ["../x/y", f"{ann.drive_id}/01NOSUCHITEM", "b!other-drive/01ABC"]}, {"item": []}]:
        response = client.post(reverse("onedrive:import"), data)
        assert response.status_code == 302 and response["Location"].startswith(PICKER)

    assert not MediaEntry.objects.exists() and not queued.jobs


def test_files_over_the_limit_are_refused_before_any_download(module, ann, member, sim, queued):
    user, client = member
    module.max_import_size_mb = 1
    module.save()
    big = sim.add_file(ann, "Huge.mp4", 2 * 1024 * 1024)
    signed_in(client)

    listing = client.get(PICKER)
    client.post(reverse("onedrive:import"), selected(big))

    assert "Larger than the 1.0" in listing.content.decode()
    assert not MediaEntry.objects.exists()
    assert not any("/content" in request.path or "/download/" in request.path for request in sim.log)


def test_the_picker_shows_sizes_and_its_limit_in_binary_units(module, ann, member, sim):
    user, client = member
    module.max_import_size_mb = 1
    module.save()
    sim.add_file(ann, "Short.mp4", 700 * 1024)
    sim.add_file(ann, "Long.mp4", 2_621_440)
    signed_in(client)

    text = client.get(PICKER).content.decode()

    assert "700.0\xa0KiB" in text and "2.5\xa0MiB" in text
    assert "up to 1.0\xa0MiB can be imported" in text and "Larger than the 1.0\xa0MiB import limit" in text
    assert "\xa0KB" not in text and "\xa0MB" not in text


def test_a_cut_download_resumes_with_range(module, ann, member, queued, sim):
    user, client = member
    signed_in(client)
    long_talk = sim.add_file(ann, "Long talk.mp4", 5 * 1024 * 1024)  # cut after more than one chunk
    client.post(reverse("onedrive:import"), selected(long_talk))
    sim.faults.cut_next = 1

    assert queued() == ["ready"]
    entry = MediaEntry.objects.get()
    assert entry.media.read() == b"".join(long_talk.content())
    ranges = [request.range for request in sim.log if request.path.startswith("/download/")]
    assert not ranges[0] and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"


def test_a_failed_import_shows_why_and_can_be_retried(module, ann, member, drive_of_ann, queued, sim):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    removed = sim.drive_items.pop(drive_of_ann["intro"].id)

    assert queued() == ["failed"]
    entry = MediaEntry.objects.get()
    my_media = client.get(reverse("mediaspace:my_media")).content.decode()
    assert "no longer in your OneDrive" in entry.error and entry.error in my_media.replace("&#x27;", "'")
    assert reverse("onedrive:retry", args=[entry.pk]) in my_media

    sim.drive_items[removed.id] = removed
    retried = client.post(reverse("onedrive:retry", args=[entry.pk]))
    assert retried.status_code == 302 and MediaEntry.objects.get().status == "pending"
    assert queued() == ["ready"]
    assert MediaEntry.objects.get().error == ""


def test_an_expired_sign_in_fails_the_import_with_a_way_forward(module, ann, member, drive_of_ann, queued):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    MicrosoftAccount.objects.update(expires_at=timezone.now())

    assert queued() == ["failed"]
    assert "sign in again" in MediaEntry.objects.get().error
    retry = client.post(reverse("onedrive:retry", args=[MediaEntry.objects.get().pk]))
    assert retry.status_code == 302 and retry["Location"].startswith(reverse("onedrive:signin"))


def test_stalled_imports_are_handed_out_again(module, ann, member, drive_of_ann, queued):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"], drive_of_ann["podcast"]))
    queued.jobs.clear()  # the tasks were lost (the broker's row deleted, say)
    MediaEntry.objects.filter(name="Intro").update(updated=timezone.now() - timedelta(hours=1))

    assert imports.requeue_stalled() == 1
    assert queued() == ["ready"]
    assert imports.requeue_stalled() == 0


def test_a_duplicate_task_does_nothing_twice(module, ann, member, drive_of_ann, queued, sim):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    entry = MediaEntry.objects.get()

    assert queued() == ["ready"]
    assert tasks.import_file(entry.pk) == "ready"
    assert len([request for request in sim.log if request.path.startswith("/download/")]) == 1


def test_an_import_is_done_once_its_bytes_are_in_and_a_late_duplicate_task_leaves_its_processing_alone(
        module, ann, member, drive_of_ann, queued, sim, processing):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["lecture"]))
    assert queued() == ["processing"]  # the media pipeline takes it on
    entry = MediaEntry.objects.get()

    module.enabled = False  # a duplicate task, late, when the module is off meanwhile
    module.save()
    assert tasks.import_file(entry.pk) == "processing"
    entry.refresh_from_db()
    assert entry.status == "processing" and entry.media.read() == CLIP
    assert len([request for request in sim.log if request.path.startswith("/download/")]) == 1


def test_a_duplicate_task_leaves_an_import_under_way_alone(module, ann, member, drive_of_ann, queued, sim):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    entry = MediaEntry.objects.get()
    MediaEntry.objects.filter(pk=entry.pk).update(status="importing", heartbeat_at=timezone.now())
    sim.drive_items.pop(drive_of_ann["intro"].id)  # the duplicate would fail if it asked Microsoft

    assert queued() == ["importing"]
    assert MediaEntry.objects.get().status == "importing" and not MediaEntry.objects.get().error


def test_a_late_duplicate_task_does_not_import_a_failed_entry_again(module, ann, member, drive_of_ann, queued, sim):
    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    entry = MediaEntry.objects.get()
    MediaEntry.objects.filter(pk=entry.pk).update(status="failed", error="OneDrive refused the download")

    assert queued() == ["failed"]  # the queued task arrives after the failure: only Retry imports again
    assert MediaEntry.objects.get().error == "OneDrive refused the download"
    assert not [request for request in sim.log if request.path.startswith("/download/")]


def test_a_dead_workers_import_and_a_lost_task_are_handed_out_again_within_three_minutes(
        module, ann, member, drive_of_ann, queued):
    from django_q.models import Schedule

    from mediaspace.conf import setting
    from mediaspace.queueing import queued_grace

    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"], drive_of_ann["podcast"]))
    queued.jobs.clear()  # a cluster killed with -9 took both tasks
    now, lease = timezone.now(), setting("MEDIASPACE_INGEST_LEASE_SECONDS")
    MediaEntry.objects.filter(name="Intro").update(status="importing", heartbeat_at=now - timedelta(seconds=lease + 1))
    MediaEntry.objects.filter(name="Podcast").update(updated=now - queued_grace() - timedelta(seconds=1))

    assert imports.requeue_stalled() == 2
    assert queued() == ["ready", "ready"]
    schedule = Schedule.objects.get(name="OneDrive stalled imports")
    scheduler_cycle = 30  # django-q2's cluster looks at its schedules every 30 s
    assert max(lease, queued_grace().total_seconds()) + schedule.minutes * 60 + scheduler_cycle <= 180


def test_an_import_whose_task_may_still_wait_in_the_queue_is_not_queued_twice(module, ann, member, drive_of_ann,
                                                                                 queued, monkeypatch):
    from mediaspace.queueing import queued_grace

    user, client = member
    signed_in(client)
    client.post(reverse("onedrive:import"), selected(drive_of_ann["intro"]))
    MediaEntry.objects.update(updated=timezone.now() - queued_grace() - timedelta(seconds=1))
    monkeypatch.setattr(imports, "tasks_waiting", lambda: True)  # other tasks wait: its own may be one of them

    assert imports.requeue_stalled() == 0
    assert queued() == ["ready"]


@pytest.mark.parametrize("lifetime, expected", [
    (-5, "could not be read"), (0, "could not be read"), (99999999999999, "could not be read"),
    ("soon", "did not match this sign-in"),  # msal's own reading of the answer refuses it first
])
def test_a_code_redeemed_with_an_unreadable_lifetime_is_a_clear_400_and_keeps_nothing(module, ann, member, sim,
                                                                                        lifetime, expected):
    web = sim.add_app(redirect_uris=[REDIRECT])
    module.application_id, module.client_secret = web.client_id, web.secret
    module.save()
    user, client = member
    fields = microsoft_answer(client, ann.upn)
    client.get(reverse("onedrive:signin"))
    sim.answered_lifetime = lifetime

    assert expected in problem(client.get(reverse("onedrive:blank_page"), fields))
    assert not MicrosoftAccount.objects.exists()


@pytest.mark.parametrize("lifetime", [-5, "soon"])
def test_a_refresh_with_an_unreadable_lifetime_sends_the_user_to_sign_in_again(module, ann, member, sim, lifetime):
    web = sim.add_app(redirect_uris=[REDIRECT])
    module.application_id, module.client_secret = web.client_id, web.secret
    module.save()
    user, client = member
    client.get(reverse("onedrive:signin"))
    assert client.get(reverse("onedrive:blank_page"), microsoft_answer(client, ann.upn)).status_code == 302
    account = MicrosoftAccount.objects.get(user=user)
    MicrosoftAccount.objects.filter(pk=account.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sim.answered_lifetime = lifetime

    answer = client.get(PICKER)

    assert answer.status_code == 302 and answer["Location"].startswith(reverse("onedrive:signin"))
    account.refresh_from_db()
    assert account.expires_at < timezone.now()  # the old, expired token was not given a new life
