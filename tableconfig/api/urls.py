"""Table configuration API routes, exactly as the older app's clients call them (no trailing slashes):
`(prefix, viewset, basename)` for the project's router (importhub/urls.py), which names them `api-tables`,
`api-table`, `api-table-filename`, `api-table-columns`, `api-column`, `api-column-aliases`, `api-alias`."""

from . import views

routes = [
    ("tables", views.TableViewSet, "api-table"),
    ("columns", views.ColumnViewSet, "api-column"),
    ("aliases", views.AliasViewSet, "api-alias"),
]
