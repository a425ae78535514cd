"""Table configuration API: thin views that validate the body and call the configuration services."""

from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.generics import GenericAPIView

from importhub.api import ok
from importhub.errors import NotFound
from tableconfig import services
from tableconfig.models import Alias, ColumnConfig, ImportTable

from . import serializers as s

ERROR = OpenApiResponse(s.ErrorSerializer, description='`{"success": false, "error": "..."}`')
ERRORS_AUTH = {401: ERROR, 403: ERROR}
ERRORS_READ = {**ERRORS_AUTH, 404: ERROR}
ERRORS_WRITE = {400: ERROR, **ERRORS_READ}


class ModelPermission(permissions.BasePermission):
    """Reading needs a logged-in user; each writing method needs the model permission in the view's `perms`.

    A writing method the view implements but does not list is refused, so a forgotten entry fails closed.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or request.method not in view.allowed_methods:
            return True  # an unimplemented method gets its 405 from the view
        perm = getattr(view, "perms", {}).get(request.method)
        return perm is not None and request.user.has_perm(perm)


def _tables() -> QuerySet[ImportTable]:
    return ImportTable.objects.annotate(column_count=Count("columns"))


def _columns() -> QuerySet[ColumnConfig]:
    return ColumnConfig.objects.prefetch_related("aliases")


def _table_detail(pk: int) -> ImportTable:
    return _tables().prefetch_related(Prefetch("columns", queryset=_columns())).get(pk=pk)


class ConfigView(GenericAPIView):
    """Looks its object up by the URL and answers an unknown one with a 404 naming it."""

    permission_classes = [ModelPermission]
    perms: dict[str, str] = {}
    not_found = "{value} not found."

    def get_object(self):
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        obj = self.get_queryset().filter(**{self.lookup_field: value}).first()
        if obj is None:
            raise NotFound(self.not_found.format(value=value))
        self.check_object_permissions(self.request, obj)
        return obj


class TableListView(ConfigView):
    """The configured import tables; POST creates one with its initial columns and its physical table."""

    queryset = _tables()
    serializer_class = s.TableCreateSerializer
    perms = {"POST": "tableconfig.add_importtable"}

    @extend_schema(
        summary="List the configured import tables",
        responses={200: s.envelope("TableListResponse", s.TableSerializer(many=True)), **ERRORS_AUTH},
    )
    def get(self, request):
        return ok(s.TableSerializer(self.get_queryset(), many=True).data)

    @extend_schema(
        summary="Create a table with its initial columns, and its physical table",
        responses={
            201: s.envelope("TableCreatedResponse", s.TableDetailSerializer()),
            400: ERROR,
            **ERRORS_AUTH,
        },
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["columns"] = [dict(column) for column in data["columns"]]
        table = services.import_table_create(**data)
        return ok(s.TableDetailSerializer(_table_detail(table.pk)).data, http_status=status.HTTP_201_CREATED)


class TableFilenameView(ConfigView):
    """The file names (comma-separated, globs allowed) that belong to a table."""

    queryset = ImportTable.objects.all()
    serializer_class = s.TableFilenameSerializer
    perms = {"PUT": "tableconfig.change_importtable"}
    not_found = "Table {value} not found."

    @extend_schema(
        summary="Change the file names that belong to a table",
        responses={200: s.envelope("TableFilenameResponse", s.TableSerializer()), **ERRORS_WRITE},
    )
    def put(self, request, pk):
        table = self.get_object()
        serializer = self.get_serializer(table, data=request.data)
        serializer.is_valid(raise_exception=True)
        table, _ = services.import_table_update(table=table, **serializer.validated_data)
        return ok(s.TableSerializer(_tables().get(pk=table.pk)).data)


class TableDetailView(ConfigView):
    """A table's settings: duplicate policy, number format, distributor rule, names and flags."""

    queryset = ImportTable.objects.all()
    serializer_class = s.TableUpdateSerializer
    perms = {"PUT": "tableconfig.change_importtable", "PATCH": "tableconfig.change_importtable"}
    not_found = "Table {value} not found."

    @extend_schema(
        summary="Change any of a table's settings; a new table_name renames its physical table",
        responses={200: s.TABLE_CHANGED_ENVELOPE, **ERRORS_WRITE},
    )
    def put(self, request, pk):
        table = self.get_object()
        serializer = self.get_serializer(table, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        table, done = services.import_table_update(table=table, **serializer.validated_data)
        return ok({**s.TableSerializer(_tables().get(pk=table.pk)).data, "schema_changes": done})

    @extend_schema(
        summary="Change any of a table's settings (same as PUT)",
        responses={200: s.TABLE_CHANGED_ENVELOPE, **ERRORS_WRITE},
    )
    def patch(self, request, pk):
        return self.put(request, pk)


class TableColumnsView(ConfigView):
    """A table's columns with their aliases; POST adds a column to the table and its physical table."""

    queryset = ImportTable.objects.all()
    serializer_class = s.ColumnCreateSerializer
    lookup_field = "table_name"
    perms = {"POST": "tableconfig.add_columnconfig"}
    not_found = "Table '{value}' not found."

    @extend_schema(
        summary="List a table's columns with their aliases",
        responses={200: s.envelope("ColumnListResponse", s.ColumnSerializer(many=True)), **ERRORS_READ},
    )
    def get(self, request, table_name):
        table = self.get_object()
        return ok(s.ColumnSerializer(_columns().filter(table=table), many=True).data)

    @extend_schema(
        summary="Add a column to a table and to its physical table",
        responses={201: s.envelope("ColumnCreatedResponse", s.ColumnSerializer()), **ERRORS_WRITE},
    )
    def post(self, request, table_name):
        table = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        column = services.column_create(table=table, **serializer.validated_data)
        return ok(s.ColumnSerializer(_columns().get(pk=column.pk)).data, http_status=status.HTTP_201_CREATED)


class ColumnDetailView(ConfigView):
    """A column's rules; changing its type, length or uniqueness alters the physical column."""

    queryset = ColumnConfig.objects.select_related("table")
    serializer_class = s.ColumnUpdateSerializer
    perms = {"PUT": "tableconfig.change_columnconfig", "PATCH": "tableconfig.change_columnconfig"}
    not_found = "Column {value} not found."

    @extend_schema(
        summary="Change any of a column's rules; the physical column follows",
        responses={200: s.COLUMN_CHANGED_ENVELOPE, **ERRORS_WRITE},
    )
    def put(self, request, pk):
        column = self.get_object()
        serializer = self.get_serializer(column, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        column, done = services.column_update(column=column, **serializer.validated_data)
        return ok({**s.ColumnSerializer(_columns().get(pk=column.pk)).data, "schema_changes": done})

    @extend_schema(
        summary="Change any of a column's rules (same as PUT)",
        responses={200: s.COLUMN_CHANGED_ENVELOPE, **ERRORS_WRITE},
    )
    def patch(self, request, pk):
        return self.put(request, pk)


class ColumnAliasesView(ConfigView):
    """Header aliases: other names a file may use for the column."""

    queryset = ColumnConfig.objects.select_related("table")
    serializer_class = s.AliasCreateSerializer
    perms = {"POST": "tableconfig.add_alias"}
    not_found = "Column {value} not found."

    @extend_schema(
        summary="Add a header alias to a column",
        responses={201: s.envelope("AliasCreatedResponse", s.AliasCreatedSerializer()), **ERRORS_WRITE},
    )
    def post(self, request, pk):
        column = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alias = services.alias_create(column=column, **serializer.validated_data)
        return ok(s.AliasCreatedSerializer(alias).data, http_status=status.HTTP_201_CREATED)


class AliasDetailView(ConfigView):
    """One header alias."""

    queryset = Alias.objects.all()
    serializer_class = s.AliasSerializer
    perms = {"DELETE": "tableconfig.delete_alias"}
    not_found = "Alias {value} not found."

    @extend_schema(summary="Delete a header alias", responses={200: s.MESSAGE_ENVELOPE, **ERRORS_READ})
    def delete(self, request, pk):
        services.alias_delete(alias=self.get_object())
        return ok(message="Alias deleted.")
