"""Import and jobs API routes. `routes` are `(prefix, viewset, basename)` for the project's router
(importhub/urls.py): `api-jobs`, `api-job`, `api-job-details`, and per file `api-job-errors`,
`api-job-archive`, `api-job-revert` (actions of `JobViewSet`). `urlpatterns` are the plain views."""

from django.urls import path

from . import mapping, views, workflow

routes = [
    ("jobs", views.JobViewSet, "api-job"),
]

urlpatterns = [
    path("import", views.ImportView.as_view(), name="api-import"),
    # Views of other modules (until they become actions of JobViewSet), one path() each, below this line.
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/mapping",
        mapping.JobMappingView.as_view(),
        name="api-job-mapping",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/retry", workflow.JobRetryView.as_view(), name="api-job-retry"
    ),
    path("jobs/<str:batch_id>/import", workflow.BatchCheckedImportView.as_view(), name="api-batch-import"),
]
