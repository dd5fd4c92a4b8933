"""PostgreSQL: trigram indexes that serve the search's `icontains` (UPPER(field) LIKE UPPER('%text%')) on an entry's
name, description and tags, so a search reads the matching entries instead of every entry of the user or category.
pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. Nothing on other databases,
which need neither django.contrib.postgres nor psycopg for it. Going back drops the indexes and keeps the extension,
which other applications of the database may use."""
from django.db import migrations

FIELDS = ["name", "description", "tags"]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for field in FIELDS:
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "mediaentry_{field}_trigram" ON "mediaspace_mediaentry" '
                                  f'USING gin (UPPER("{field}") gin_trgm_ops)')


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for field in FIELDS:
            schema_editor.execute(f'DROP INDEX IF EXISTS "mediaentry_{field}_trigram"')


class Migration(migrations.Migration):

    dependencies = [
        ("mediaspace", "0007_stalled_processing_schedule"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes),
    ]
