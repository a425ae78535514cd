"""Configuration pages, under /config/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.table_list, name="config-tables"),
    path("tables/new/", views.table_create, name="config-table-create"),
    path("tables/<int:pk>/", views.table_detail, name="config-table"),
    path("tables/<int:pk>/columns/new/", views.column_create, name="config-column-create"),
    path("columns/<int:pk>/", views.column_edit, name="config-column"),
    path("columns/<int:pk>/aliases/", views.alias_create, name="config-alias-create"),
    path("aliases/<int:pk>/delete/", views.alias_delete, name="config-alias-delete"),
]
