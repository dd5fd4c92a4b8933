"""What Django's error reports show of a failed request.

Django blanks the parameters and variables marked with `sensitive_post_parameters` and `sensitive_variables`
only when DEBUG is off. `make run` runs with DEBUG on, and its technical 500 page would then show a relayed
access token or a typed client secret to whoever looks at the screen: marked values are blanked always.
"""
from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        return True
