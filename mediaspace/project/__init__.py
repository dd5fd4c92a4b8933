"""The stand-alone project that runs the portal by itself: settings from the environment, root URLs, WSGI,
health check, logging, the debug page's filter, the sign-in lock-out page and static files. The installable apps
(`mediaspace`, `integrations.teams`, `onedrive`) need nothing from here; a host project brings its own."""
