"""Table configuration API: viewsets whose actions validate the body and call the configuration services."""

from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action

from importhub.api import ERROR, ERRORS_AUTH, ERRORS_READ, ERRORS_WRITE, MESSAGE_ENVELOPE, envelope, ok
from importhub.errors import NotFound
from tableconfig import services
from tableconfig.models import Alias, ColumnConfig, ImportTable

from . import serializers as s

TABLE_EXAMPLE = {
    "table_name": "products",
    "display_name": "Product Data",
    "allowed_filename": "product_list",
    "columns": [
        {"name": "sku", "type": "str"},
        {"name": "product_name", "type": "str"},
        {"name": "price", "type": "int"},
        {"name": "category", "type": "str"},
    ],
}
TABLE_ANSWER = {
    "id": 1,
    "table_name": "products",
    "display_name": "Product Data",
    "allowed_filename": "product_list",
    "description": "",
    "is_active": True,
    "reject_file_on_error": False,
    "on_duplicate": "update",
    "decimal_separator": ".",
    "thousands_separator": "",
    "distributor_match": "prefix",
    "distributor_prefix_length": 2,
    "expected_in_batch": True,
    "column_count": 4,
    "created_at": "2026-10-31T08:00:00+07:00",
    "updated_at": "2026-10-31T08:00:00+07:00",
}
COLUMN_ANSWER = {
    "id": 7,
    "column_name": "notes",
    "data_type": "str",
    "is_mandatory": False,
    "is_unique": False,
    "max_length": 255,
    "decimal_digits": 18,
    "decimal_places": 4,
    "round_decimals": False,
    "date_format": "",
    "role": "",
    "position": 5,
    "aliases": [{"id": 1, "alias_name": "item_code"}],
}


def _request(name: str, value: dict) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


def _answer(name: str, data, status_code: int = 200, **extra) -> OpenApiExample:
    return OpenApiExample(
        name,
        value={"success": True, "data": data, **extra},
        response_only=True,
        status_codes=[str(status_code)],
    )


class ModelPermission(permissions.BasePermission):
    """Reading needs a logged-in user; each writing action needs the model permission in the viewset's
    `perms` (by action name). A writing action the viewset has but does not list is refused: it fails closed.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or request.method not in view.allowed_methods:
            return True  # an unimplemented method gets its 405 from the view
        perm = getattr(view, "perms", {}).get(view.action)
        return perm is not None and request.user.has_perm(perm)


def _tables() -> QuerySet[ImportTable]:
    return ImportTable.objects.annotate(column_count=Count("columns"))


def _columns() -> QuerySet[ColumnConfig]:
    return ColumnConfig.objects.prefetch_related("aliases")


def _table_detail(pk: int) -> ImportTable:
    return _tables().prefetch_related(Prefetch("columns", queryset=_columns())).get(pk=pk)


class ConfigViewSet(viewsets.GenericViewSet):
    """Looks its object up by the URL and answers an unknown one with a 404 naming it."""

    permission_classes = [ModelPermission]
    perms: dict[str, str] = {}
    not_found = "{value} not found."
    lookup_value_regex = "[0-9]+"

    def get_object(self, *, lookup_field: str | None = None):
        lookup_field = lookup_field or self.lookup_field
        value = self.kwargs[lookup_field]
        obj = self.get_queryset().filter(**{lookup_field: value}).first()
        if obj is None:
            raise NotFound(self.not_found.format(value=value))
        self.check_object_permissions(self.request, obj)
        return obj


class TableViewSet(ConfigViewSet):
    """The configured import tables: list, create (with the initial columns and the physical table), change
    settings (PUT or PATCH, any of them), change the file names, and list or add a table's columns."""

    queryset = ImportTable.objects.all()
    perms = {
        "create": "tableconfig.add_importtable",
        "update": "tableconfig.change_importtable",
        "partial_update": "tableconfig.change_importtable",
        "filename": "tableconfig.change_importtable",
        "columns": "tableconfig.add_columnconfig",
    }
    not_found = "Table {value} not found."

    def get_serializer_class(self):
        return {
            "create": s.TableCreateSerializer,
            "filename": s.TableFilenameSerializer,
            "columns": s.ColumnCreateSerializer,
        }.get(self.action, s.TableUpdateSerializer)

    @extend_schema(
        summary="List the configured import tables",
        responses={200: envelope("TableListResponse", s.TableSerializer(many=True)), **ERRORS_AUTH},
        examples=[_answer("Tables", [TABLE_ANSWER])],
    )
    def list(self, request):
        return ok(s.TableSerializer(_tables(), many=True).data)

    @extend_schema(
        summary="Create a table with its initial columns, and its physical table",
        responses={
            201: envelope("TableCreatedResponse", s.TableDetailSerializer()),
            400: ERROR,
            **ERRORS_AUTH,
        },
        examples=[
            _request("The Postman collection's table", TABLE_EXAMPLE),
            _answer("Created", {**TABLE_ANSWER, "columns": [COLUMN_ANSWER]}, 201),
        ],
    )
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["columns"] = [dict(column) for column in data["columns"]]
        table = services.import_table_create(**data)
        return ok(s.TableDetailSerializer(_table_detail(table.pk)).data, http_status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change any of a table's settings; a new table_name renames its physical table",
        responses={200: s.TABLE_CHANGED_ENVELOPE, **ERRORS_WRITE},
        examples=[
            _request("Describe the table", {"description": "Monthly product list"}),
            _answer("Changed", {**TABLE_ANSWER, "schema_changes": []}),
        ],
    )
    def update(self, request, pk):
        table = self.get_object()
        serializer = self.get_serializer(table, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        table, done = services.import_table_update(table=table, **serializer.validated_data)
        return ok({**s.TableSerializer(_tables().get(pk=table.pk)).data, "schema_changes": done})

    @extend_schema(
        summary="Change any of a table's settings (same as PUT)",
        responses={200: s.TABLE_CHANGED_ENVELOPE, **ERRORS_WRITE},
        examples=[
            _request("Describe the table", {"description": "Monthly product list"}),
            _answer("Changed", {**TABLE_ANSWER, "schema_changes": []}),
        ],
    )
    def partial_update(self, request, pk):
        return self.update(request, pk)

    @extend_schema(
        summary="Change the file names that belong to a table",
        responses={200: envelope("TableFilenameResponse", s.TableSerializer()), **ERRORS_WRITE},
        examples=[
            _request("The Postman collection's file names", {"allowed_filename": "pv_inventory"}),
            _answer("Changed", {**TABLE_ANSWER, "allowed_filename": "pv_inventory"}),
        ],
    )
    @action(detail=True, methods=["put"])
    def filename(self, request, pk):
        """The file names (comma-separated, globs allowed) that belong to a table."""
        table = self.get_object()
        serializer = self.get_serializer(table, data=request.data)
        serializer.is_valid(raise_exception=True)
        table, _ = services.import_table_update(table=table, **serializer.validated_data)
        return ok(s.TableSerializer(_tables().get(pk=table.pk)).data)

    @extend_schema(
        methods=["GET"],
        summary="List a table's columns with their aliases",
        parameters=[OpenApiParameter("table_name", str, OpenApiParameter.PATH)],
        request=None,
        responses={200: envelope("ColumnListResponse", s.ColumnSerializer(many=True)), **ERRORS_READ},
        examples=[_answer("Columns", [COLUMN_ANSWER])],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a column to a table and to its physical table",
        parameters=[OpenApiParameter("table_name", str, OpenApiParameter.PATH)],
        responses={201: envelope("ColumnCreatedResponse", s.ColumnSerializer()), **ERRORS_WRITE},
        examples=[
            _request("The Postman collection's column", {"column_name": "notes", "data_type": "str"}),
            _answer("Added", COLUMN_ANSWER, 201),
        ],
    )
    @action(detail=False, methods=["get", "post"], url_path=r"(?P<table_name>[^/]+)/columns")
    def columns(self, request, table_name):
        """A table's columns with their aliases (by the table's name, as the older app's clients call it)."""
        self.not_found = "Table '{value}' not found."
        table = self.get_object(lookup_field="table_name")
        if request.method == "GET":
            return ok(s.ColumnSerializer(_columns().filter(table=table), many=True).data)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        column = services.column_create(table=table, **serializer.validated_data)
        return ok(s.ColumnSerializer(_columns().get(pk=column.pk)).data, http_status=status.HTTP_201_CREATED)


class ColumnViewSet(ConfigViewSet):
    """A column's rules (changing its type, length or uniqueness alters the physical column), and its
    header aliases: other names a file may use for the column."""

    queryset = ColumnConfig.objects.select_related("table")
    perms = {
        "update": "tableconfig.change_columnconfig",
        "partial_update": "tableconfig.change_columnconfig",
        "aliases": "tableconfig.add_alias",
    }
    not_found = "Column {value} not found."

    def get_serializer_class(self):
        return s.AliasCreateSerializer if self.action == "aliases" else s.ColumnUpdateSerializer

    @extend_schema(
        summary="Change any of a column's rules; the physical column follows",
        responses={200: s.COLUMN_CHANGED_ENVELOPE, **ERRORS_WRITE},
        examples=[
            _request("The Postman collection's change", {"is_mandatory": True, "data_type": "str"}),
            _answer("Changed", {**COLUMN_ANSWER, "is_mandatory": True, "schema_changes": []}),
        ],
    )
    def update(self, request, pk):
        column = self.get_object()
        serializer = self.get_serializer(column, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        column, done = services.column_update(column=column, **serializer.validated_data)
        return ok({**s.ColumnSerializer(_columns().get(pk=column.pk)).data, "schema_changes": done})

    @extend_schema(
        summary="Change any of a column's rules (same as PUT)",
        responses={200: s.COLUMN_CHANGED_ENVELOPE, **ERRORS_WRITE},
        examples=[
            _request("Make it mandatory", {"is_mandatory": True}),
            _answer("Changed", {**COLUMN_ANSWER, "is_mandatory": True, "schema_changes": []}),
        ],
    )
    def partial_update(self, request, pk):
        return self.update(request, pk)

    @extend_schema(
        summary="Add a header alias to a column",
        responses={201: envelope("AliasCreatedResponse", s.AliasCreatedSerializer()), **ERRORS_WRITE},
        examples=[
            _request("The Postman collection's alias", {"alias_name": "item_code"}),
            _answer("Added", {"id": 1, "alias_name": "item_code", "column": 7}, 201),
        ],
    )
    @action(detail=True, methods=["post"])
    def aliases(self, request, pk):
        column = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alias = services.alias_create(column=column, **serializer.validated_data)
        return ok(s.AliasCreatedSerializer(alias).data, http_status=status.HTTP_201_CREATED)


class AliasViewSet(ConfigViewSet):
    """One header alias."""

    queryset = Alias.objects.all()
    serializer_class = s.AliasSerializer
    perms = {"destroy": "tableconfig.delete_alias"}
    not_found = "Alias {value} not found."

    @extend_schema(
        summary="Delete a header alias",
        responses={200: MESSAGE_ENVELOPE, **ERRORS_READ},
        examples=[
            OpenApiExample(
                "Deleted", value={"success": True, "message": "Alias deleted."}, response_only=True
            )
        ],
    )
    def destroy(self, request, pk):
        services.alias_delete(alias=self.get_object())
        return ok(message="Alias deleted.")
