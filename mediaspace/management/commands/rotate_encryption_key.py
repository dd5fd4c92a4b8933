"""Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEY.

Rotation, in three steps (docs/operations.md):

1. FIELD_ENCRYPTION_KEY=<new>,<old> on every web server and worker, restarted: the new key encrypts what is
   written from now on, both keys read.
2. `manage.py rotate_encryption_key`: every stored value still under an older key is re-encrypted under the
   new one (Fernet's rotate: the value and its timestamp are kept).
3. FIELD_ENCRYPTION_KEY=<new> everywhere, restarted. The old key can be destroyed.

The command reads and writes the columns directly, with the keys in the settings when it runs (the fields'
own cipher is built once, when Django starts). It finds the fields itself: every EncryptedMixin field of
every installed model (the Teams and OneDrive client secrets, the Microsoft sign-ins' tokens, the sign-in
requests' code flow). A value no key can read is left as it is and reported, and the command then fails:
removing an old key before that is solved would lose the secret. A value encrypted twice (saved under a wrong
key before the fields refused to read it, mediaspace/encryption.py) is stored once, under the first key, when
the keys read both layers, and reported as unreadable otherwise. Running it again changes nothing.
"""
from cryptography.fernet import InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, router, transaction

from mediaspace.encryption import Unreadable, configured_keys, decrypt_layers, encrypted_fields

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEY (see docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args, dry_run=False, **options):
        try:
            keys = configured_keys()
        except ImproperlyConfigured as error:
            raise CommandError(error) from None
        newest, every_key = keys[0], MultiFernet(keys)
        if len(keys) == 1:
            self.stdout.write("FIELD_ENCRYPTION_KEY holds one key: checking that every value is under it.")
        unreadable_total = 0
        for model, field in encrypted_fields():
            rotated, current, unreadable = self.rotate_field(model, field, newest, every_key, dry_run)
            unreadable_total += unreadable
            label = f"{model._meta.label}.{field.name}"
            self.stdout.write(f"{label}: {rotated} {'to re-encrypt' if dry_run else 're-encrypted'}, "
                              f"{current} already under the first key, {unreadable} unreadable")
        if unreadable_total:
            raise CommandError(
                f"{unreadable_total} value(s) could not be read with any key of FIELD_ENCRYPTION_KEY and were left "
                "as they are. Add the key they were written with (after the first) and run this again before "
                "removing any key."
            )

    def rotate_field(self, model, field, newest, every_key, dry_run):
        database = router.db_for_write(model)
        connection = connections[database]
        quote = connection.ops.quote_name
        table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
        rotated = current = unreadable = 0
        last = None
        while True:
            with connection.cursor() as cursor:
                where = f"{column} IS NOT NULL" + ("" if last is None else f" AND {pk} > %s")
                cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {where} ORDER BY {pk} LIMIT {BATCH}",
                               [] if last is None else [last])
                rows = cursor.fetchall()
            if not rows:
                return rotated, current, unreadable
            last = rows[-1][0]
            changes = []
            for row_pk, value in rows:
                if not value:
                    continue
                text = value.decode() if isinstance(value, bytes) else value
                try:
                    secret, layers = decrypt_layers(every_key, text)
                except Unreadable as error:
                    unreadable += 1
                    self.stderr.write(f"{model._meta.label}.{field.name} of {model._meta.pk.name}={row_pk}: {error}")
                    continue
                if layers > 1:  # saved once under a wrong key: the secret itself, under the first key
                    changes.append((newest.encrypt(secret.encode()).decode(), row_pk, value))
                elif self.under(newest, text):
                    current += 1
                else:
                    changes.append((every_key.rotate(text.encode()).decode(), row_pk, value))
            rotated += len(changes)
            if changes and not dry_run:
                with transaction.atomic(using=database), connection.cursor() as cursor:
                    # Only where the value is still the one read: a save in between wrote it under the first key.
                    cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",
                                       changes)

    @staticmethod
    def under(key, text):
        try:
            key.decrypt(text.encode())
            return True
        except InvalidToken:
            return False
