"""Static files storage of the stand-alone portal in production (DEBUG off).

whitenoise's compressed manifest storage: `collectstatic` (the release step) writes hashed, gzip- and
Brotli-compressed copies, served for a year as immutable. Until collectstatic has run there is no manifest,
and Django's manifest storage would fail every page that names a static file; this one then gives the plain
names, which whitenoise serves from the apps' folders (WHITENOISE_USE_FINDERS), so `manage.py runserver`
with DEBUG off (the end-to-end tests) and a first start before collectstatic still work.
"""
from whitenoise.storage import CompressedManifestStaticFilesStorage


class PortalStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name):
        if not self.hashed_files:  # no manifest yet: collectstatic has not run
            return name
        return super().stored_name(name)
