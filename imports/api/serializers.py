"""The import and jobs API's bodies for the OpenAPI document and the browsable API: what a request may send
and what each answer holds. The views answer with the selectors' dicts; these only describe them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from importhub.api import envelope

from ..models import BatchSource, ImportMode
from ..selectors import BATCH_STATUSES

# The modes `POST /api/import` accepts today (mode_normalize refuses the others).
IMPORT_MODES = (ImportMode.QUICK, ImportMode.FULL, ImportMode.BOTH, ImportMode.DRY_RUN)
MODE_DESCRIPTIONS = {
    ImportMode.QUICK.value: "Check the headers and a sample of each file; load nothing.",
    ImportMode.FULL.value: "Validate every row and import the valid ones in the background.",
    ImportMode.BOTH.value: "The quick check, then the import (the default, also when mode is empty).",
    ImportMode.DRY_RUN.value: "Validate every row in the background exactly as the import would; load nothing. "
    "POST /api/jobs/<batch_id>/import then imports the checked files without a new upload.",
}
MODE_HELP = (
    "quick (check the headers and a sample, load nothing), full (validate and import in the background), or both "
    "(quick, then the import; the default, also when empty), or dry_run (validate every row, load nothing). Any "
    "other value is refused with 400 invalid_mode."
)


@extend_schema_field(
    {"type": "string", "enum": list(IMPORT_MODES), "example": "quick", "description": MODE_HELP}
)
class ModeField(serializers.CharField):
    """Documented with the example `quick`, so Swagger's "Try it out" pre-fills a mode that loads nothing."""


@extend_schema_field(
    {
        "type": "string",
        "example": "",
        "maxLength": 50,
        "description": "Distributor id, checked against the first values of the file's distributor column "
        "(the table's rule). Empty: no check. While distributors are required (DISTRIBUTORS_REQUIRED: on, or "
        "auto once one exists) it must be the code of an active distributor: otherwise 400 with the code "
        "dist_id_required, unknown_distributor or inactive_distributor, and nothing is stored.",
    }
)
class DistIdField(serializers.CharField):
    """Documented with an empty example: Swagger must not pre-fill a distributor."""


class ImportRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        help_text="One or more .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files.",
    )
    mode = ModeField(required=False, allow_blank=True)
    table_name = serializers.CharField(
        required=False,
        default="auto",
        help_text="'auto' (each file's table from its name) or the name of one configured table.",
    )
    dist_id = DistIdField(required=False, allow_blank=True)
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: import files whose identical content was already imported into their table "
        "(otherwise refused in full and both mode with code duplicate_content).",
    )


class ImportFormSerializer(serializers.Serializer):
    """The browsable API's upload form: one file input that takes several files."""

    files = serializers.FileField(
        help_text="One or more .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files.",
        style={"template": "imports/api/files_input.html"},
    )
    mode = serializers.ChoiceField(choices=[*IMPORT_MODES], initial=ImportMode.QUICK, help_text=MODE_HELP)
    table_name = serializers.CharField(initial="auto", default="auto", help_text="'auto' or a table name.")
    dist_id = serializers.CharField(required=False, allow_blank=True, help_text="Distributor id (optional).")
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Import files even if identical content was already imported.",
    )


# --- Answers --------------------------------------------------------------------------------------


class FileCheckSerializer(serializers.Serializer):
    filename = serializers.CharField()
    table_name = serializers.CharField(allow_null=True, help_text="The table the file belongs to.")
    valid = serializers.BooleanField(help_text="False: the file is refused (see error) and not imported.")
    rows = serializers.IntegerField(help_text="Data rows in the file.")
    error = serializers.CharField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class ImportDataSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["checked", "pending", "failed"],
        help_text="checked (quick: nothing queued), pending (queued), failed (every file refused).",
    )
    total_rows = serializers.IntegerField(help_text="Data rows in the valid files.")
    files = serializers.ListField(child=serializers.CharField(), help_text="The names of the files sent.")
    validation = FileCheckSerializer(many=True, help_text="Each file's check (same as the top-level files).")
    warnings = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField()


class ImportResponseSerializer(serializers.Serializer):
    """Every mode's answer has every key: `batch_id` at the top and in `data`, each file's check in `files`
    and in `data.validation`."""

    success = serializers.BooleanField()
    mode = serializers.ChoiceField(choices=[*IMPORT_MODES])
    batch_id = serializers.UUIDField()
    message = serializers.CharField()
    files = FileCheckSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField(), help_text="e.g. skipped ZIP members.")
    data = ImportDataSerializer()
    error = serializers.CharField(required=False, help_text="Only when every file failed (422).")


class ImportRefusedSerializer(serializers.Serializer):
    success = serializers.BooleanField(default=False)
    error = serializers.CharField()
    code = serializers.CharField(required=False)
    field = serializers.CharField(required=False)
    mode = serializers.CharField(required=False)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class BatchFileSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The file's job id.")
    filename = serializers.CharField()
    table_name = serializers.CharField()
    status = serializers.IntegerField(help_text="0 skipped ... 9 complete.")
    status_label = serializers.CharField()
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    success_count = serializers.IntegerField()
    error_count = serializers.IntegerField()


class BatchErrorSerializer(serializers.Serializer):
    filename = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())


class BatchSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    table_name = serializers.CharField(help_text="The batch's tables, comma-separated.")
    dist_id = serializers.CharField()
    distributor = serializers.CharField(allow_null=True, help_text="The linked distributor's code.")
    source = serializers.ChoiceField(
        choices=BatchSource.choices,
        allow_null=True,
        help_text="Where the batch came from: upload (the staff form), api, cli, inbox (an inbox folder), "
        "email (the mailbox); null for batches older than the record.",
    )
    status = serializers.ChoiceField(choices=list(BATCH_STATUSES))
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    success_count = serializers.IntegerField()
    error_count = serializers.IntegerField()
    error_details = BatchErrorSerializer(many=True)
    files = BatchFileSerializer(many=True)
    created_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)


class JobDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    batch_id = serializers.UUIDField()
    filename = serializers.CharField()
    source_name = serializers.CharField()
    table_name = serializers.CharField()
    dist_id = serializers.CharField()
    distributor = serializers.CharField(allow_null=True, help_text="The linked distributor's code.")
    content_sha256 = serializers.CharField(help_text="SHA-256 of the stored file (hex); empty for status 0.")
    mode = serializers.CharField()
    status = serializers.IntegerField()
    status_label = serializers.CharField()
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    success_count = serializers.IntegerField()
    error_count = serializers.IntegerField()
    duplicate_count = serializers.IntegerField()
    inserted_count = serializers.IntegerField()
    updated_count = serializers.IntegerField()
    skipped_count = serializers.IntegerField()
    repeated_count = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField(), help_text="The first rejected rows.")
    has_errors_file = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())
    summary = serializers.JSONField()
    notes = serializers.CharField()
    attempts = serializers.IntegerField()
    archive_status = serializers.CharField(allow_null=True)
    archive_file_id = serializers.CharField(allow_null=True)
    archive_url = serializers.CharField(allow_null=True, help_text="Where the archived original downloads.")
    archive_error = serializers.CharField(allow_null=True)
    archived_at = serializers.DateTimeField(allow_null=True)
    uploaded_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


BATCH_LIST_ENVELOPE = envelope("BatchListResponse", BatchSerializer(many=True))
BATCH_ENVELOPE = envelope("BatchResponse", BatchSerializer())
JOB_DETAILS_ENVELOPE = envelope("JobDetailsResponse", JobDetailSerializer(many=True))


class ImportRulesSerializer(serializers.Serializer):
    modes = serializers.DictField(child=serializers.CharField(), help_text="Each mode and what it does.")
    default_mode = serializers.CharField(help_text="The mode of an upload that sends none.")
    max_files = serializers.IntegerField(help_text="Files per request (UPLOAD_MAX_FILES).")
    max_file_bytes = serializers.IntegerField(help_text="Bytes per file (UPLOAD_MAX_FILE_BYTES).")
    max_request_bytes = serializers.IntegerField(help_text="Bytes per request (UPLOAD_MAX_REQUEST_BYTES).")


IMPORT_RULES_ENVELOPE = envelope("ImportRulesResponse", ImportRulesSerializer())
