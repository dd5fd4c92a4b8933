"""The shared Microsoft kit: what both integrations (Teams in `integrations.teams`, OneDrive in `onedrive`) use to
talk to Microsoft — the Graph client and its errors, sign-in with msal, the GUID validator and the secret fields.
A plain package, not a Django app: it has no models of its own."""
