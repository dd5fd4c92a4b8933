"""Encrypted model fields that refuse to read what the configured keys cannot decrypt.

django-encrypted-model-fields returns a value it cannot decrypt unchanged: with a wrong FIELD_ENCRYPTION_KEY
the code got the ciphertext as the secret, and saving the row (an admin renaming a Teams integration) encrypted
that again, losing the secret for good. These fields raise instead (mediaspace/encryption.py has the rule).
Empty and NULL values are stored as they are by the library and still read as they are.
"""
from django.core.exceptions import ImproperlyConfigured
from encrypted_model_fields import fields as library

from mediaspace import encryption


class UnreadableSecret(ImproperlyConfigured):
    """A stored value that no key of FIELD_ENCRYPTION_KEY decrypts: the key is wrong."""


class StrictDecryptMixin:
    def from_db_value(self, value, expression, connection):
        if isinstance(value, bytes):
            value = value.decode()
        if value:
            try:
                value = encryption.decrypt(library.CRYPTER, value)  # the fields' cipher, built at start-up
            except encryption.Unreadable as error:
                raise UnreadableSecret(
                    f"{self.model._meta.label}.{self.name} holds a value that no key of FIELD_ENCRYPTION_KEY "
                    f"decrypts ({error}), so FIELD_ENCRYPTION_KEY is wrong. {encryption.HINT}"
                ) from None
        # The plain field's conversion: the library's to_python would try to decrypt the secret once more.
        return super(library.EncryptedMixin, self).to_python(value)


class EncryptedCharField(StrictDecryptMixin, library.EncryptedCharField):
    pass


class EncryptedTextField(StrictDecryptMixin, library.EncryptedTextField):
    pass
