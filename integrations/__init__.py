"""Microsoft 365 integrations: `integrations.microsoft` is the shared Microsoft kit, `integrations.teams` the
Teams recordings app (Django app label "integrations")."""
