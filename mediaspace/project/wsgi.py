import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediaspace.project.settings")
application = get_wsgi_application()

# Refuse to serve (gunicorn, runserver) when the stored secrets do not decrypt with FIELD_ENCRYPTION_KEY: the
# database check mediaspace.E004 does the same for `migrate` and `check --database default` (docs/operations.md).
from mediaspace.encryption import refuse_unreadable_values  # noqa: E402  (needs the apps loaded above)

refuse_unreadable_values()
