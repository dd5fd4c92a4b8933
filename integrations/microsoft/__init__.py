"""The shared Microsoft kit: what both integrations (Teams in `integrations.teams`, OneDrive in `onedrive`) use to
talk to Microsoft. Only the kit imports msal and requests; each product keeps its own flow and its own words.

- `graph.py`: the Graph client, and `AppTokenProvider` (application tokens);
- `errors.py`: the one error family (`GraphError` and its kinds), what the products catch;
- `identity.py`: msal's application factory, the HTTP client msal is given, a user's delegated sign-in
  (`DelegatedApp`: code flow, token refresh);
- `openid.py`: each tenant's OpenID configuration and signing keys, and ID-token verification;
- `validators.py` (GUID), `fields.py` (encrypted model fields), `forms.py` (SecretField, `sensitive_secret`).

A plain package, not a Django app: it has no models of its own."""
