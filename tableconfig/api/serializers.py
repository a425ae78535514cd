"""Serializers of the table configuration API: input ones only validate, the services do the writing."""

from rest_framework import serializers

from importhub.api import ChoicesListed, envelope
from tableconfig.models import Alias, ColumnConfig, DataType, ImportTable
from tableconfig.naming import normalize_name
from tableconfig.services import COLUMN_OPTIONS, TABLE_FIELDS

DATA_TYPE_ERRORS = {
    "invalid_choice": f'"{{input}}" is not a valid type; use one of {", ".join(DataType.values)}.'
}
COLUMN_OPTION_FIELDS = COLUMN_OPTIONS


def alias_name_validate(value: str) -> str:
    if not normalize_name(value):
        raise serializers.ValidationError("An alias needs at least one letter or digit.")
    return value


# --- Output -------------------------------------------------------------------------------------


class AliasSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alias
        fields = ("id", "alias_name")


class AliasCreatedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alias
        fields = ("id", "alias_name", "column")


class ColumnSerializer(serializers.ModelSerializer):
    aliases = AliasSerializer(many=True, read_only=True)

    class Meta:
        model = ColumnConfig
        fields = ("id", "column_name", "data_type", *COLUMN_OPTION_FIELDS, "position", "aliases")


class ColumnChangedSerializer(ColumnSerializer):
    """Documents a column update's answer: the column and what changed in its physical table."""

    schema_changes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(ColumnSerializer.Meta):
        fields = (*ColumnSerializer.Meta.fields, "schema_changes")


class TableSerializer(serializers.ModelSerializer):
    """A table with `column_count`, which the queryset must annotate."""

    column_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportTable
        fields = ("id", *TABLE_FIELDS, "column_count", "created_at", "updated_at")


class TableChangedSerializer(TableSerializer):
    """Documents a table update's answer: the table and what changed in its physical table."""

    schema_changes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(TableSerializer.Meta):
        fields = (*TableSerializer.Meta.fields, "schema_changes")


class TableDetailSerializer(TableSerializer):
    columns = ColumnSerializer(many=True, read_only=True)

    class Meta(TableSerializer.Meta):
        fields = (*TableSerializer.Meta.fields, "columns")


# --- Input --------------------------------------------------------------------------------------


class TableColumnSerializer(ChoicesListed, serializers.ModelSerializer):
    """One initial column of a new table, spelt as the older app's clients send it (`name`, `type`)."""

    name = serializers.CharField(
        source="column_name",
        max_length=ColumnConfig._meta.get_field("column_name").max_length,
        validators=ColumnConfig._meta.get_field("column_name").validators,
    )
    # Plain values, not (value, label): the OpenAPI document then names this spelling's enum on its own.
    type = serializers.ChoiceField(
        source="data_type", choices=DataType.values, error_messages=DATA_TYPE_ERRORS
    )
    aliases = serializers.ListField(
        child=serializers.CharField(
            max_length=Alias._meta.get_field("alias_name").max_length, validators=[alias_name_validate]
        ),
        required=False,
    )

    class Meta:
        model = ColumnConfig
        fields = ("name", "type", *COLUMN_OPTION_FIELDS, "aliases")
        # Initial columns are what a file of the table must have, unless said otherwise.
        extra_kwargs = {"is_mandatory": {"default": True}}


class TableCreateSerializer(ChoicesListed, serializers.ModelSerializer):
    columns = TableColumnSerializer(many=True)

    class Meta:
        model = ImportTable
        fields = (*TABLE_FIELDS, "columns")

    def validate_columns(self, value: list) -> list:
        if not value:
            raise serializers.ValidationError("at least one column is required")
        return value


class TableUpdateSerializer(ChoicesListed, serializers.ModelSerializer):
    """Any of a table's settings; a new table_name renames its physical table."""

    class Meta:
        model = ImportTable
        fields = TABLE_FIELDS
        # PUT changes what it is sent, like PATCH (the older app's clients send one setting).
        extra_kwargs = {name: {"required": False} for name in TABLE_FIELDS}

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(f"Send at least one of: {', '.join(self.fields)}.")
        return attrs


class TableFilenameSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportTable
        fields = ("allowed_filename",)
        extra_kwargs = {"allowed_filename": {"required": True}}


class ColumnCreateSerializer(ChoicesListed, serializers.ModelSerializer):
    class Meta:
        model = ColumnConfig
        fields = ("column_name", "data_type", *COLUMN_OPTION_FIELDS)
        extra_kwargs = {"data_type": {"required": True, "error_messages": DATA_TYPE_ERRORS}}


class ColumnUpdateSerializer(ChoicesListed, serializers.ModelSerializer):
    """Any of a column's rules; the name cannot change (it is the physical column's name)."""

    class Meta:
        model = ColumnConfig
        fields = ("data_type", *COLUMN_OPTION_FIELDS)
        extra_kwargs = {"data_type": {"error_messages": DATA_TYPE_ERRORS}}

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(f"Send at least one of: {', '.join(self.fields)}.")
        return attrs


class AliasCreateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alias
        fields = ("alias_name",)
        extra_kwargs = {"alias_name": {"validators": [alias_name_validate]}}


# --- Answers, for the OpenAPI document ------------------------------------------------------------

COLUMN_CHANGED_ENVELOPE = envelope("ColumnChangedResponse", ColumnChangedSerializer())
TABLE_CHANGED_ENVELOPE = envelope("TableChangedResponse", TableChangedSerializer())
