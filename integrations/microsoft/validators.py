import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def validate_guid(value):
    if not GUID.match(value or ""):
        raise ValidationError(
            _("Enter the ID exactly as the Azure portal shows it on the app's Overview tab: "
              "32 hexadecimal digits in the form 00000000-0000-0000-0000-000000000000."),
            code="invalid_guid",
        )
