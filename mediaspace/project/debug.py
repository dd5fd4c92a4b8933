"""What Django's error reports show of a failed request.

Django blanks the parameters and variables marked with `sensitive_post_parameters` and `sensitive_variables`
only when DEBUG is off. `make run` runs with DEBUG on, and its technical 500 page would then show a relayed
access token or a typed client secret to whoever looks at the screen: marked values are blanked always.
A marked parameter that arrives in the query string (the code flow's `code`) is blanked there too: in the
GET list, the request URL, the environment's query string and the request as the frames' variables show it.
"""
from django.http import HttpRequest
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


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        return True

    def cleanse_special_types(self, request, value):
        if isinstance(value, HttpRequest) and _marked_query(value, "") is not None:
            return f"<{type(value).__name__}: {value.method} {value.path!r}>"  # its repr shows the query
        return super().cleanse_special_types(request, value)


class QuerySafeExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        query = self.request is not None and _marked_query(self.request, self.filter.cleansed_substitute)
        if query:
            data["request_GET_items"] = query.items()
            data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0] + "?" + query.urlencode("*")
            data["request_meta"] = {key: self.filter.cleansed_substitute if key in QUERY_META else value
                                    for key, value in data["request_meta"].items()}
        return data
