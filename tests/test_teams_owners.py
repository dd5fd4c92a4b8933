"""The seed's owner rules: UPN as is / without / with a postfix, or Azure user ID; found by user ID,
e-mail or both; otherwise created from the Teams user or given to the default user."""
import pytest
from django.contrib.auth import get_user_model

from integrations.teams.models import TeamsIntegration
from integrations.teams.owners import TeamsUser, portal_user_id, resolve_owner
from mediaspace.models import UserRole
from tests.microsoft import CLIENT_ID, TENANT_ID

I = TeamsIntegration
JOHN = TeamsUser(id="5f0e2a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b", upn="john.doe@example.com",
                 display_name="John Doe", mail="john.doe@mail.example.com")


def integration(**rules):
    return TeamsIntegration(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID, client_secret="x" * 40,
                            **rules)


@pytest.mark.parametrize("rules, upn, expected", [
    ({"upn_rule": I.UpnRule.KEEP}, "john.doe@example.com", "john.doe@example.com"),
    ({"upn_rule": I.UpnRule.REMOVE_POSTFIX, "postfix": "@example.com"}, "john.doe@example.com", "john.doe"),
    ({"upn_rule": I.UpnRule.REMOVE_POSTFIX, "postfix": "@EXAMPLE.com"}, "john.doe@example.com", "john.doe"),
    ({"upn_rule": I.UpnRule.REMOVE_POSTFIX, "postfix": "@example.com"}, "john.doe@other.org", "john.doe@other.org"),
    ({"upn_rule": I.UpnRule.ADD_POSTFIX, "postfix": "@example.com"}, "john.doe", "john.doe@example.com"),
    ({"upn_rule": I.UpnRule.ADD_POSTFIX, "postfix": "@example.com"}, "john.doe@example.com", "john.doe@example.com"),
    ({"user_id_source": I.UserIdSource.AZURE_ID, "upn_rule": I.UpnRule.REMOVE_POSTFIX, "postfix": "@example.com"},
     "john.doe@example.com", JOHN.id),
])
def test_portal_user_id_follows_the_rule(rules, upn, expected):
    teams_user = TeamsUser(id=JOHN.id, upn=upn)
    assert portal_user_id(integration(**rules), teams_user) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("find_by, username, email, found", [
    (I.FindUserBy.USER_ID, "john.doe", "someone@else.org", True),
    (I.FindUserBy.USER_ID, "JOHN.DOE", "", True),
    (I.FindUserBy.USER_ID, "jdoe", "john.doe@mail.example.com", False),
    (I.FindUserBy.EMAIL, "jdoe", "John.Doe@mail.example.com", True),
    (I.FindUserBy.EMAIL, "john.doe", "someone@else.org", False),
    (I.FindUserBy.BOTH, "john.doe", "someone@else.org", True),
    (I.FindUserBy.BOTH, "jdoe", "john.doe@mail.example.com", True),
    (I.FindUserBy.BOTH, "jdoe", "someone@else.org", False),
])
def test_existing_user_is_found_by_the_chosen_key(make_user, find_by, username, email, found):
    existing = make_user(username=username, email=email)
    rules = integration(upn_rule=I.UpnRule.REMOVE_POSTFIX, postfix="@example.com", find_user_by=find_by,
                        missing_user=I.MissingUser.DEFAULT, default_user=make_user(username="fallback"))
    result = resolve_owner(rules, JOHN)
    assert (result.user == existing) is found
    assert result.created is False


@pytest.mark.django_db
def test_missing_user_is_created_from_the_teams_user_with_the_default_role(settings):
    settings.MEDIASPACE_DEFAULT_ROLE = "viewerRole"
    rules = integration(upn_rule=I.UpnRule.REMOVE_POSTFIX, postfix="@example.com")
    result = resolve_owner(rules, JOHN)
    user = get_user_model().objects.get(username="john.doe")
    assert result.user == user and result.created
    assert (user.email, user.first_name, user.last_name) == ("john.doe@mail.example.com", "John", "Doe")
    assert not user.has_usable_password()
    assert UserRole.objects.get(user=user).role == "viewerRole"
    assert result.steps[-1] == "Created portal user 'john.doe' from the Teams user 'John Doe'."


@pytest.mark.django_db
def test_the_same_user_is_not_created_twice():
    rules = integration()
    first, second = resolve_owner(rules, JOHN), resolve_owner(rules, JOHN)
    assert first.user == second.user and (first.created, second.created) == (True, False)
    assert get_user_model().objects.filter(username=JOHN.upn).count() == 1


@pytest.mark.django_db
def test_missing_user_goes_to_the_default_user(make_user):
    fallback = make_user(username="recordings")
    result = resolve_owner(integration(missing_user=I.MissingUser.DEFAULT, default_user=fallback), JOHN)
    assert result.user == fallback
    assert result.steps[-2:] == ["No portal user matches by user id.",
                                 "Using the default user 'recordings': the rule “In case the user doesn't exist” "
                                 "is “Use default user”."]
    assert (result.outcome, result.fallback, result.went_to_default_user) == ("default user", "missing", True)
    assert not get_user_model().objects.filter(username=JOHN.upn).exists()


@pytest.mark.django_db
def test_an_ambiguous_match_goes_to_the_default_user_and_says_why(make_user):
    make_user(username="jdoe1", email=JOHN.mail)
    make_user(username="jdoe2", email=JOHN.mail)
    fallback = make_user(username="recordings")
    result = resolve_owner(integration(find_user_by=I.FindUserBy.EMAIL, default_user=fallback), JOHN)
    assert result.user == fallback and not result.problem
    assert (result.outcome, result.fallback) == ("default user", "ambiguous")
    assert result.steps[-2:] == [
        "More than one portal user matches by user e-mail: 'jdoe1', 'jdoe2'.",
        "Using the default user 'recordings': with more than one match the recording is not given to any of them."]


@pytest.mark.django_db
def test_ambiguous_match_is_never_given_to_one_of_them(make_user):
    make_user(username="jdoe1", email=JOHN.mail)
    make_user(username="jdoe2", email=JOHN.mail)
    result = resolve_owner(integration(find_user_by=I.FindUserBy.EMAIL), JOHN)
    assert result.user is None and (result.outcome, result.fallback) == ("cannot", "ambiguous")
    assert result.problem == "More than one portal user matches the recording's owner, and no default user is set."
    assert "'jdoe1', 'jdoe2'" in result.steps[-1]


@pytest.mark.django_db
def test_unresolvable_owner_says_why():
    result = resolve_owner(integration(missing_user=I.MissingUser.DEFAULT), JOHN)
    assert result.user is None
    assert result.problem == "No portal user matches the recording's owner, and no default user is set."


@pytest.mark.django_db
def test_a_user_id_the_portal_cannot_hold_is_a_problem_not_a_crash():
    odd = TeamsUser(id=JOHN.id, upn="o'brien@example.com", display_name="Pat O'Brien")
    result = resolve_owner(integration(), odd)
    assert result.user is None and "cannot create a user named" in result.problem
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_dry_run_creates_nobody():
    result = resolve_owner(integration(), JOHN, dry_run=True)
    assert result.user is None and not result.created and result.outcome == "would create"
    assert result.steps[-1] == "Would create portal user 'john.doe@example.com'."
    assert not get_user_model().objects.exists()
