from django.urls import path

from . import errors, revert, views

urlpatterns = [
    path("import", views.ImportView.as_view(), name="api-import"),
    path("jobs", views.JobsView.as_view(), name="api-jobs"),
    path("jobs/<str:batch_id>", views.JobView.as_view(), name="api-job"),
    path("jobs/<str:batch_id>/details", views.JobDetailsView.as_view(), name="api-job-details"),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/errors.csv",
        errors.JobErrorsCsvView.as_view(),
        name="api-job-errors",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/errors.xlsx",
        errors.JobErrorsXlsxView.as_view(),
        name="api-job-errors-xlsx",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/archive",
        views.JobArchiveView.as_view(),
        name="api-job-archive",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/revert", revert.JobRevertView.as_view(), name="api-job-revert"
    ),
]
