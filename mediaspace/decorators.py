"""The guards of the portal's views, shared by every app: an entry's permission, a module's access, POST only.

A refusal is a readable page (403, or 405 for an address that only takes forms), never a blank one; a
visitor who is not signed in is sent to sign in first.
"""
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _, gettext_lazy

from .models import MediaEntry
from .permissions import EntryAccess
from .roles import has_role

DENIED = {
    "can_view": gettext_lazy("You do not have access to this entry."),
    "can_edit": gettext_lazy("Only the owner and co-editors may change this entry."),
    "can_delete": gettext_lazy("Only the owner may delete this entry."),
    "can_manage_collaborators": gettext_lazy("Only the owner may change who collaborates on this entry."),
    "can_publish": gettext_lazy(
        "Only the owner and co-publishers with the role adminRole or higher may publish this entry."),
}


def forbidden(request, message):
    return render(request, "mediaspace/forbidden.html", {"message": message}, status=403)


def refuse(request, permission):
    """An entry's refusal: a visitor signs in first, a signed-in user reads why (DENIED) on a 403."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return forbidden(request, DENIED[permission])


def entry_view(permission):
    """Load the entry named by `pk` and let the view run only if the user has `permission` on it."""

    def decorator(view):
        @wraps(view)
        def guarded(request, pk, *args, **kwargs):
            entry = get_object_or_404(MediaEntry.objects.select_related("owner"), pk=pk)
            access = EntryAccess(request.user, entry)
            if not getattr(access, permission):
                return refuse(request, permission)
            return view(request, entry, access, *args, **kwargs)

        return guarded

    return decorator


def module_required(module_class):
    """Guard a module's view: disabled module or role too low gives a readable 403.

    A visitor who is not signed in is sent to sign in first, unless the module is off anyway.
    The loaded module is available to the view as `request.module`.
    """

    def decorator(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            module = module_class.load()
            if not module.enabled:
                return forbidden(
                    request, _("The %(module)s is turned off on this portal.") % {"module": module}
                )
            if not has_role(request.user, module.allowed_roles):
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                return forbidden(
                    request,
                    _("Your role does not allow you to use the %(module)s. Ask a portal administrator "
                      "for the role %(role)s or higher.")
                    % {"module": module, "role": module.allowed_roles},
                )
            request.module = module
            return view(request, *args, **kwargs)

        return guarded

    return decorator


def post_only(view):
    """Like require_POST, but a person who opens the address gets a readable page, not a blank one."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method != "POST":
            response = render(request, "mediaspace/forbidden.html", {
                "title": _("Not a page"),
                "message": _("This address only takes form submissions. Go back to the entry and use its buttons.")},
                status=405)
            response["Allow"] = "POST"
            return response
        return view(request, *args, **kwargs)

    return guarded
