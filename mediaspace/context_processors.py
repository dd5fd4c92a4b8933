from django.utils.functional import SimpleLazyObject

from .modules import registry
from .roles import role_of


def portal(request):
    """The "Add new" menu and the user's role, worked out only if a template asks for them."""
    return {
        "add_new_menu": SimpleLazyObject(lambda: registry.add_new_menu(request.user)),
        "portal_role": SimpleLazyObject(lambda: role_of(request.user)),
    }
