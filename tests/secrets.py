"""One stored value in every encrypted column of the portal, and the check that each still reads as written."""
from django.utils import timezone

from integrations.teams.models import TeamsIntegration
from onedrive.models import MicrosoftAccount, OneDriveModule, SignInRequest
from tests.microsoft import CLIENT_ID, TENANT_ID


def make_secrets(make_user) -> list:
    """Stores the values; returns (model, field, pk) of each encrypted column, the Teams integration's first."""
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="teams-secret")
    module = OneDriveModule.load()
    module.client_secret = "onedrive-secret"
    module.save()
    user = make_user()
    account = MicrosoftAccount.objects.create(user=user, tenant_id=TENANT_ID, object_id="oid", application_id=CLIENT_ID,
                                              access_token="access-1", refresh_token="refresh-1",
                                              expires_at=timezone.now())
    sign_in = SignInRequest.objects.create(user=user, state="s" * 20, nonce="n", code_flow='{"code_verifier": "v"}',
                                           application_id=CLIENT_ID, redirect_uri="https://portal.example.edu/x")
    return [(TeamsIntegration, "client_secret", integration.pk), (OneDriveModule, "client_secret", module.pk),
            (MicrosoftAccount, "access_token", account.pk), (MicrosoftAccount, "refresh_token", account.pk),
            (SignInRequest, "code_flow", sign_in.pk)]


def assert_every_secret_reads():
    assert TeamsIntegration.objects.get().client_secret == "teams-secret"
    assert OneDriveModule.objects.get().client_secret == "onedrive-secret"
    account = MicrosoftAccount.objects.get()
    assert (account.access_token, account.refresh_token) == ("access-1", "refresh-1")
    assert SignInRequest.objects.get().code_flow == '{"code_verifier": "v"}'
