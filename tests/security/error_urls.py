"""The project's URL configuration plus views that fail on purpose, for the error-page tests."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from importhub.urls import handler400, handler403, handler404, handler500
from importhub.urls import urlpatterns as project_urlpatterns

# Shown by nothing but the debug page: the tests look for it in the plain pages.
FAILURE_MARKER = "forced-failure-7f3a"


def page_fails(request):
    raise RuntimeError(f"{FAILURE_MARKER}: cannot reach mysql://importhub:pw-in-message@db:3306/importhub")


def page_forbidden(request):
    raise PermissionDenied(FAILURE_MARKER)


def page_suspicious(request):
    raise SuspiciousOperation(FAILURE_MARKER)


class ApiFails(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(FAILURE_MARKER)


urlpatterns = [
    path("test-errors/fails/", page_fails),
    path("test-errors/forbidden/", page_forbidden),
    path("test-errors/suspicious/", page_suspicious),
    path("api/test-errors/fails/", ApiFails.as_view()),
    path("api/test-errors/forbidden/", page_forbidden),
    *project_urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
