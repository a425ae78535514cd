"""Table configuration API routes, exactly as the older app's clients call them (no trailing slashes)."""

from django.urls import path

from . import views

urlpatterns = [
    path("tables", views.TableListView.as_view(), name="api-tables"),
    path("tables/<int:pk>", views.TableDetailView.as_view(), name="api-table"),
    path("tables/<int:pk>/filename", views.TableFilenameView.as_view(), name="api-table-filename"),
    path("tables/<str:table_name>/columns", views.TableColumnsView.as_view(), name="api-table-columns"),
    path("columns/<int:pk>", views.ColumnDetailView.as_view(), name="api-column"),
    path("columns/<int:pk>/aliases", views.ColumnAliasesView.as_view(), name="api-column-aliases"),
    path("aliases/<int:pk>", views.AliasDetailView.as_view(), name="api-alias"),
]
