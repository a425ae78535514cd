"""Read-only admin for import jobs: jobs change only through the import engine; superusers may delete."""

import json

from django.contrib import admin
from django.utils.html import format_html

from .models import ImportJob


class DistributorFilter(admin.SimpleListFilter):
    title = "distributor"
    parameter_name = "dist_id"

    def lookups(self, request, model_admin):
        dist_ids = (
            ImportJob.objects.exclude(dist_id="")
            .order_by("dist_id")
            .values_list("dist_id", flat=True)
            .distinct()[:200]
        )
        return [(dist_id, dist_id) for dist_id in dist_ids]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(dist_id=self.value())
        return queryset


def _json_block(value) -> str:
    if not value:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False, default=str))


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "original_filename",
        "table_name",
        "dist_id",
        "status_with_label",
        "total_rows",
        "success_count",
        "error_count",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", "table", DistributorFilter)
    date_hierarchy = "created_at"
    # batch_id is matched as text, so a pasted batch id (or part of one) finds its jobs.
    search_fields = ("original_filename", "dist_id", "batch_id")
    fieldsets = (
        (
            "File",
            {
                "fields": (
                    "original_filename",
                    "source_name",
                    "stored_filename",
                    "file_size",
                    "table",
                    "table_name",
                    "dist_id",
                    "batch_id",
                    "mode",
                    "uploaded_by",
                )
            },
        ),
        (
            "Status and counts",
            {
                "fields": (
                    "status_with_label",
                    "attempts",
                    "total_rows",
                    "processed_rows",
                    "success_count",
                    "error_count",
                    "duplicate_count",
                )
            },
        ),
        (
            "Errors, warnings and summary",
            {
                "fields": (
                    "error_code",
                    "error_message",
                    "errors_file",
                    "errors_pretty",
                    "warnings_pretty",
                    "summary_pretty",
                    "notes",
                )
            },
        ),
        (
            "Archive",
            {
                "fields": (
                    "archive_status",
                    "archive_file_id",
                    "archive_url",
                    "archive_error",
                    "archive_attempts",
                    "archived_at",
                )
            },
        ),
        ("Timestamps", {"fields": ("created_at", "updated_at", "started_at", "completed_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            *(f.name for f in ImportJob._meta.concrete_fields),
            "status_with_label",
            "errors_pretty",
            "warnings_pretty",
            "summary_pretty",
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.display(description="status", ordering="status")
    def status_with_label(self, obj: ImportJob) -> str:
        return f"{obj.status} · {obj.status_label}"

    @admin.display(description="errors (first rows)")
    def errors_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.errors)

    @admin.display(description="warnings")
    def warnings_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.warnings)

    @admin.display(description="summary")
    def summary_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.summary)
