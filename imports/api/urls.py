"""Import and jobs API routes. `routes` are `(prefix, viewset, basename)` for the project's router
(importhub/urls.py): `api-jobs`, `api-job`, `api-job-details`, and per file `api-job-errors`,
`api-job-archive`, `api-job-revert` (actions of `JobViewSet`). `urlpatterns` are the plain views."""

from django.urls import path

from . import compliance, distributors, inbox, views

routes = [
    ("jobs", views.JobViewSet, "api-job"),
    ("distributors", distributors.DistributorViewSet, "api-distributor"),
]

urlpatterns = [
    path("import", views.ImportView.as_view(), name="api-import"),
    path("compliance", compliance.ComplianceView.as_view(), name="api-compliance"),
    path("inbox", inbox.InboxView.as_view(), name="api-inbox"),
]
