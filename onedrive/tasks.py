"""django-q2 tasks: thin wrappers around `onedrive.imports`."""
from . import imports


def import_file(entry_id: int) -> str:
    return imports.import_file(entry_id) or "nothing to do"


def requeue_stalled() -> int:
    return imports.requeue_stalled()
