"""Staff pages: upload, batches, data preview and export; and the older app's paths, redirected."""

from django.urls import path
from django.views.generic import RedirectView

from . import (
    views,
    views_compliance,
    views_data,
    views_distributors,
    views_inbox,
    views_mapping,
    views_revert,
    views_workflow,
)

urlpatterns = [
    path("", views.upload, name="upload"),
    path("batches/", views.batch_list, name="batch-list"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch-detail"),
    path(
        "batches/<uuid:batch_id>/files/<int:job_id>/mapping",
        views_mapping.job_mapping_save,
        name="job-mapping",
    ),
    path("batches/<uuid:batch_id>/import/", views_workflow.batch_import_page, name="batch-import"),
    path(
        "batches/<uuid:batch_id>/files/<int:job_id>/retry/", views_workflow.job_retry_page, name="job-retry"
    ),
    path("distributors/", views_distributors.distributor_list, name="distributor-list"),
    path("data/", views_data.data_tables, name="data-tables"),
    path("data/exports/<int:export_id>/", views_data.data_export_status, name="data-export-status"),
    path(
        "data/exports/<int:export_id>/download", views_data.data_export_download, name="data-export-download"
    ),
    path("data/<str:table_name>/", views_data.data_table, name="data-table"),
    path("data/<str:table_name>/export.csv", views_data.data_export, {"fmt": "csv"}, name="data-export-csv"),
    path(
        "data/<str:table_name>/export.xlsx", views_data.data_export, {"fmt": "xlsx"}, name="data-export-xlsx"
    ),
    path(
        "data/<str:table_name>/exports/csv",
        views_data.data_export_start,
        {"fmt": "csv"},
        name="data-export-start-csv",
    ),
    path(
        "data/<str:table_name>/exports/xlsx",
        views_data.data_export_start,
        {"fmt": "xlsx"},
        name="data-export-start-xlsx",
    ),
    path("batches/<uuid:batch_id>/files/<int:job_id>/revert/", views_revert.job_revert, name="job-revert"),
    path("compliance/", views_compliance.compliance_page, name="compliance"),
    path("inbox/", views_inbox.inbox_page, name="inbox"),
    path("compliance.csv", views_compliance.compliance_csv, name="compliance-csv"),
    path("compliance/<str:code>/", views_compliance.compliance_distributor, name="compliance-distributor"),
    # The older app's pages.
    path("batch", RedirectView.as_view(pattern_name="batch-list", permanent=True)),
    path("batch/<uuid:batch_id>", RedirectView.as_view(pattern_name="batch-detail", permanent=True)),
    path("master-config", RedirectView.as_view(pattern_name="config-tables", permanent=True)),
]
