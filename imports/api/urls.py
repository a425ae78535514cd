from django.urls import path

from . import mapping, revert, views, workflow

urlpatterns = [
    path("import", views.ImportView.as_view(), name="api-import"),
    path("jobs", views.JobsView.as_view(), name="api-jobs"),
    path("jobs/<str:batch_id>", views.JobView.as_view(), name="api-job"),
    path("jobs/<str:batch_id>/details", views.JobDetailsView.as_view(), name="api-job-details"),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/errors.csv",
        views.JobErrorsCsvView.as_view(),
        name="api-job-errors",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/archive",
        views.JobArchiveView.as_view(),
        name="api-job-archive",
    ),
    path(
        "jobs/<str:batch_id>/files/<int:job_id>/revert", revert.JobRevertView.as_view(), name="api-job-revert"
    ),
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
