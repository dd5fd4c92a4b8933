"""What Django's error reports show of a failed request.

Django blanks the parameters and variables marked with `sensitive_post_parameters` and `sensitive_variables`
only when DEBUG is off. `make run` runs with DEBUG on, and its technical 500 page would then show a relayed
access token or a typed client secret to whoever looks at the screen: marked values are blanked always.
A marked parameter that arrives in the query string (the code flow's `code`) is blanked there too: in the
GET list, the request URL, the environment's query string and the request as the frames' variables show it.
A marked parameter's value is blanked wherever else it shows: in any frame's variables (the ORM's frames hold a
typed secret before it is encrypted) and in the exception's message.
"""
from django.http import HttpRequest
from django.template.defaultfilters import pprint
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

QUERY_META = ("QUERY_STRING", "RAW_URI", "REQUEST_URI")


def _marked_query(request, substitute):
    """The request's query with its marked parameters blanked, or None when it holds none."""
    marked = getattr(request, "sensitive_post_parameters", None)
    names = [name for name in (request.GET if marked == "__ALL__" else marked or []) if name in request.GET]
    if not names:
        return None
    query = request.GET.copy()
    for name in names:
        query.setlist(name, [substitute])
    return query


def _marked_values(request):
    """The values of the request's marked parameters (POST and query), as typed and as a repr shows them."""
    marked = getattr(request, "sensitive_post_parameters", None)
    if not marked:
        return set()
    values = set()
    for data in (request.POST, request.GET):
        for name in (data if marked == "__ALL__" else marked):
            values.update(value for value in data.getlist(name) if value)
    return values | {repr(value)[1:-1] for value in values}


class _Shown(str):
    """Text the debug page shows as it is (a variable's repr with the marked values blanked)."""

    def __repr__(self):
        return str(self)


def _blank(text, values, substitute):
    for value in sorted(values, key=len, reverse=True):  # a value may hold another
        text = text.replace(value, substitute)
    return text


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        return True

    def cleanse_special_types(self, request, value):
        if isinstance(value, HttpRequest) and _marked_query(value, "") is not None:
            return f"<{type(value).__name__}: {value.method} {value.path!r}>"  # its repr shows the query
        value = super().cleanse_special_types(request, value)
        values = request is not None and _marked_values(request)
        if values:
            text = pprint(value)
            if any(marked in text for marked in values):
                return _Shown(_blank(text, values, self.cleansed_substitute))
        return value


class QuerySafeExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        values = self.request is not None and _marked_values(self.request)
        if values and "exception_value" in data:
            data["exception_value"] = _blank(data["exception_value"], values, self.filter.cleansed_substitute)
        query = self.request is not None and _marked_query(self.request, self.filter.cleansed_substitute)
        if query:
            data["request_GET_items"] = query.items()
            data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0] + "?" + query.urlencode("*")
            data["request_meta"] = {key: self.filter.cleansed_substitute if key in QUERY_META else value
                                    for key, value in data["request_meta"].items()}
        return data
