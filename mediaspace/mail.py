"""E-mail from the portal: links that work outside it, and sending that never breaks the work around it."""
import logging

from django.core.mail import send_mail

from .conf import setting

logger = logging.getLogger(__name__)


def portal_link(path: str) -> str:
    """`path` as a link for an e-mail: MEDIASPACE_SITE_URL in front of it when set."""
    return f"{setting('MEDIASPACE_SITE_URL').rstrip('/')}{path}"


def send_quietly(subject, body, to) -> Exception | None:
    """Send one e-mail with Django's mail framework; a mail server problem is logged and returned, not raised,
    so that it costs only the e-mail."""
    try:
        send_mail(subject, body, None, list(to))
    except Exception as error:  # noqa: BLE001 - any failure of the mail server is the same to the caller
        logger.exception("An e-mail to %s could not be sent", ", ".join(to))
        return error
    return None
