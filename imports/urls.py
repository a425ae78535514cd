"""Staff pages: upload, batches, data preview and export; and the older app's paths, redirected."""

from django.urls import path
from django.views.generic import RedirectView

from . import views, views_revert

urlpatterns = [
    path("", views.upload, name="upload"),
    path("batches/", views.batch_list, name="batch-list"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch-detail"),
    path("batches/<uuid:batch_id>/files/<int:job_id>/revert/", views_revert.job_revert, name="job-revert"),
    path("data/", views.data_tables, name="data-tables"),
    path("data/<str:table_name>/", views.data_table, name="data-table"),
    path("data/<str:table_name>/export.csv", views.data_export, {"fmt": "csv"}, name="data-export-csv"),
    path("data/<str:table_name>/export.xlsx", views.data_export, {"fmt": "xlsx"}, name="data-export-xlsx"),
    # The older app's pages.
    path("batch", RedirectView.as_view(pattern_name="batch-list", permanent=True)),
    path("batch/<uuid:batch_id>", RedirectView.as_view(pattern_name="batch-detail", permanent=True)),
    path("master-config", RedirectView.as_view(pattern_name="config-tables", permanent=True)),
]
