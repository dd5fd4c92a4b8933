"""FIELD_ENCRYPTION_KEY and the values stored under it (docs/operations.md, "Rotating FIELD_ENCRYPTION_KEY").

One rule for the keys themselves (`fernet_keys`): the stand-alone settings refuse to start without valid ones,
and the system checks (mediaspace.E001, E002) say the same.

One rule for the fields (integrations/microsoft/fields.py), the database check (mediaspace.E004), the web server's
start-up probe (mediaspace/project/wsgi.py) and `manage.py rotate_encryption_key`: a stored value is readable when the
configured keys decrypt it. A value no key decrypts is an error, never a secret: django-encrypted-model-fields
hands it to the code as the ciphertext itself, and a save then encrypted that again. A value that decrypts to
another Fernet token is what such a save left behind: it is read through to the secret when a configured key
also opens the inner token, and is an error otherwise.
"""
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router

NOT_SET = "FIELD_ENCRYPTION_KEY is not set, so stored secrets cannot be encrypted."
INVALID = "FIELD_ENCRYPTION_KEY is not a valid key: it must be 32 url-safe base64-encoded bytes."
HOW_TO_MAKE = ("`make run` writes one into .env; elsewhere generate one with `python -c 'from cryptography.fernet "
               "import Fernet; print(Fernet.generate_key().decode())'` and set it in the environment. Keep it: "
               "without it the stored secrets cannot be read.")
HINT = ("Restore the key these values were written with (FIELD_ENCRYPTION_KEY). To change keys, set "
        "FIELD_ENCRYPTION_KEY=<new>,<old> (the old key after the new one) and run `manage.py rotate_encryption_key` "
        "(docs/operations.md).")
PROBE_ROWS = 5  # a wrong key fails on any row: a few per column is enough at start-up
# A Fernet token: url-safe base64 of 0x80, a timestamp (its first bytes are 0 until the year 8921), an IV, the
# ciphertext and an HMAC.
TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_-]{92,}={0,2}")


class Unreadable(Exception):
    """No configured key decrypts a stored value."""


class KeyNotSet(ImproperlyConfigured):
    pass


class InvalidKey(ImproperlyConfigured):
    pass


def key_list(value: str) -> list[str]:
    """Several keys, comma separated, as the list django-encrypted-model-fields takes (to it, a string is one key)."""
    return [key.strip() for key in value.split(",") if key.strip()]


def fernet_keys(keys) -> list[Fernet]:
    """FIELD_ENCRYPTION_KEY's keys: a list (the first encrypts, every one decrypts), or a string of them, comma
    separated. Each must be a key: django-encrypted-model-fields refuses to start otherwise."""
    keys = key_list(keys) if isinstance(keys, str) else list(keys or [])
    if not keys:
        raise KeyNotSet(f"{NOT_SET} {HOW_TO_MAKE}")
    try:
        return [Fernet(key) for key in keys]
    except (ValueError, TypeError):  # the error's text says no more than INVALID, and never quotes the key
        raise InvalidKey(f"{INVALID} {HOW_TO_MAKE}") from None


def configured_keys() -> list[Fernet]:
    return fernet_keys(getattr(settings, "FIELD_ENCRYPTION_KEY", None))


def encrypted_fields():
    """Every encrypted field of every installed model (ours and any other app's)."""
    # Imported here: the library reads the keys when imported, and the settings import this module to check them.
    from encrypted_model_fields.fields import EncryptedMixin

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedMixin):
                yield model, field


def decrypt_layers(cipher: MultiFernet, value: str) -> tuple[str, int]:
    """The secret in a stored value and how many times it was encrypted (1 unless a wrong key was once saved)."""
    layers = 0
    while True:
        try:
            value = cipher.decrypt(value.encode()).decode()
        except InvalidToken:
            raise Unreadable("no key of FIELD_ENCRYPTION_KEY decrypts it" if not layers else
                             "it was encrypted twice, once under a wrong key, and no key of FIELD_ENCRYPTION_KEY "
                             "decrypts the inner value") from None
        layers += 1
        if not TOKEN.fullmatch(value):
            return value, layers


def decrypt(cipher: MultiFernet, value: str) -> str:
    return decrypt_layers(cipher, value)[0]


def unreadable_columns(*, databases, app_configs=None):
    """(label, Unreadable) for each encrypted column with a value the keys do not read: one query per column.

    Tables or columns that do not exist yet (a database not migrated) are skipped.
    """
    cipher = MultiFernet(configured_keys())
    for alias in databases:
        connection = connections[alias]
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            columns = {}
            for model, field in encrypted_fields():
                table = model._meta.db_table
                if (table not in tables or not router.allow_migrate_model(alias, model)
                        or (app_configs is not None and model._meta.app_config not in app_configs)):
                    continue
                if table not in columns:
                    columns[table] = {c.name for c in connection.introspection.get_table_description(cursor, table)}
                if field.column not in columns[table]:
                    continue
                quote = connection.ops.quote_name
                cursor.execute(f"SELECT {quote(field.column)} FROM {quote(table)} WHERE {quote(field.column)} "
                               f"IS NOT NULL AND {quote(field.column)} <> '' ORDER BY {quote(model._meta.pk.column)} "
                               f"LIMIT {PROBE_ROWS}")
                for (value,) in cursor.fetchall():
                    try:
                        decrypt(cipher, value.decode() if isinstance(value, bytes) else value)
                    except Unreadable as error:
                        yield f"{model._meta.label}.{field.name}", error
                        break


def refuse_unreadable_values():
    """The web server's start-up probe (mediaspace/project/wsgi.py): the database check without manage.py."""
    problems = [f"{label}: {error}" for label, error in unreadable_columns(databases=list(connections))]
    if problems:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is wrong: stored values cannot be decrypted with it ("
                                   + "; ".join(problems) + "). " + HINT)
