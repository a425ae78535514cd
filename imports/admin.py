"""Read-only admin for import jobs: jobs change only through the import engine; superusers may delete."""

import json
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from importhub.errors import ImportHubError

from .archive.workflow import archive_retry
from .models import Distributor, ImportBatch, ImportJob, InboxClaim
from .selectors import job_archive_url
from .services.distributors import FIELDS as DISTRIBUTOR_FIELDS
from .services.distributors import DistributorInvalid, distributor_check, distributor_due_text
from .services.rejects import job_errors_file
from .services.revert import import_job_revert_preview, import_jobs_revert
from .services.workflow import RETRYABLE, job_retry, job_retry_message


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
        "archive_status",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", "archive_status", "table", "distributor", DistributorFilter)
    actions = ["archive_retry_action", "revert_action", "revert_cascade_action", "job_retry_action"]
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
                    "distributor",
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
                    "inserted_count",
                    "updated_count",
                    "skipped_count",
                    "repeated_count",
                )
            },
        ),
        (
            "Errors, warnings and summary",
            {
                "fields": (
                    "error_code",
                    "error_message",
                    "errors_file_link",
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
                    "archive_link",
                    "archive_error",
                    "archive_attempts",
                    "archived_at",
                )
            },
        ),
        ("Revert", {"fields": ("reverted_at", "reverted_by", "revert_notes")}),
        ("Timestamps", {"fields": ("created_at", "updated_at", "started_at", "completed_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            *(f.name for f in ImportJob._meta.concrete_fields),
            "status_with_label",
            "errors_pretty",
            "warnings_pretty",
            "summary_pretty",
            "archive_link",
            "errors_file_link",
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_retry_archive_permission(self, request) -> bool:
        return request.user.has_perm("imports.change_importjob")

    @admin.action(description="Retry archive of the selected files", permissions=["retry_archive"])
    def archive_retry_action(self, request, queryset):
        ids = archive_retry(job_ids=list(queryset.values_list("id", flat=True)), include_pending=True)
        if ids:
            self.message_user(request, f"Archiving {len(ids)} file(s) again.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                "None of the selected files is waiting to be archived or failed to be: nothing to retry.",
                messages.WARNING,
            )

    def has_revert_permission(self, request) -> bool:
        return request.user.has_perm("imports.change_importjob")

    @admin.action(
        description="Revert the selected imports (delete the rows they inserted, restore the rows they updated)",
        permissions=["revert"],
    )
    def revert_action(self, request, queryset):
        return self._revert(request, queryset, cascade=False, action="revert_action")

    @admin.action(
        description="Revert the selected imports and, first, the later imports that changed their rows",
        permissions=["revert"],
    )
    def revert_cascade_action(self, request, queryset):
        return self._revert(request, queryset, cascade=True, action="revert_cascade_action")

    def _revert(self, request, queryset, *, cascade: bool, action: str):
        """First an intermediate page listing the selected jobs and what reverting each would remove and
        restore; only its confirming POST (`post=yes`) reverts."""
        if request.POST.get("post") != "yes":
            jobs = list(queryset.select_related("table").order_by("-completed_at", "-id"))
            context = {
                **self.admin_site.each_context(request),
                "title": "Revert the selected imports?",
                "opts": self.model._meta,
                "previews": [import_job_revert_preview(job=job) for job in jobs],
                "cascade": cascade,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "queryset": jobs,
            }
            return TemplateResponse(request, "admin/imports/importjob/revert_confirmation.html", context)
        for attempt in import_jobs_revert(jobs=queryset, user=request.user, cascade=cascade):
            if not attempt.ok:
                level = messages.ERROR
            elif attempt.result.overwritten_before:
                level = messages.WARNING
            else:
                level = messages.SUCCESS
            self.message_user(request, attempt.message, level)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("imports.add_importjob")

    @admin.action(
        description="Retry the selected failed files from their kept uploads (status 2, 6, 8)",
        permissions=["retry"],
    )
    def job_retry_action(self, request, queryset):
        for job in queryset.order_by("id"):
            name = job.original_filename or f"Job {job.id}"
            try:
                job = job_retry(job_id=job.id, user=request.user)
            except ImportHubError as exc:
                self.message_user(request, f"{name}: {exc.message}", messages.ERROR)
                continue
            level = messages.WARNING if job.status in RETRYABLE else messages.SUCCESS
            self.message_user(request, job_retry_message(job), level)

    @admin.display(description="errors file")
    def errors_file_link(self, obj: ImportJob) -> str:
        if job_errors_file(obj) is None:
            return "-"
        csv_url = reverse("api-job-errors", args=[str(obj.batch_id), obj.id])
        xlsx_url = reverse("api-job-errors-xlsx", args=[str(obj.batch_id), obj.id])
        return format_html(
            '<a href="{}">Download the rejected rows (XLSX, values exact)</a> · '
            '<a href="{}">CSV (safe to open)</a>',
            xlsx_url,
            csv_url,
        )

    @admin.display(description="archive url")
    def archive_link(self, obj: ImportJob) -> str:
        url = job_archive_url(obj)
        if not url:
            return "-"
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="status", ordering="status")
    def status_with_label(self, obj: ImportJob) -> str:
        if obj.reverted_at is None:
            return f"{obj.status} · {obj.status_label}"
        return format_html(
            '{} · {} · <span class="reverted" title="{}">Reverted</span>',
            obj.status,
            obj.status_label,
            f"{obj.reverted_at:%Y-%m-%d %H:%M} UTC",
        )

    @admin.display(description="errors (first rows)")
    def errors_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.errors)

    @admin.display(description="warnings")
    def warnings_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.warnings)

    @admin.display(description="summary")
    def summary_pretty(self, obj: ImportJob) -> str:
        return _json_block(obj.summary)


class DistributorAdminForm(forms.ModelForm):
    """The contacts as text (one address per line, or comma-separated); every rule is the service's check,
    so the admin, the API and the pages cannot drift apart."""

    contact_emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line (or separated by commas): who receives the reminders.",
    )

    class Meta:
        model = Distributor
        fields = DISTRIBUTOR_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["contact_emails"] = "\n".join(self.instance.contact_emails or [])

    def clean_contact_emails(self) -> list[str]:
        return [e for e in re.split(r"[\s,;]+", self.cleaned_data.get("contact_emails") or "") if e]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        changes = {name: data.get(name) for name in DISTRIBUTOR_FIELDS if name != "tables"}
        changes["tables"] = [t.table_name for t in data.get("tables") or []]
        try:
            values = distributor_check(data=changes, instance=self.instance)
        except DistributorInvalid as exc:
            message = exc.message.removeprefix(f"{exc.field}: ")
            self.add_error(
                exc.field if exc.field in self.fields else None, forms.ValidationError(message, code=exc.code)
            )
            return data
        for name in DISTRIBUTOR_FIELDS:
            if name != "tables":
                data[name] = getattr(values, name)
        return data


@admin.register(Distributor)
class DistributorAdmin(admin.ModelAdmin):
    form = DistributorAdminForm
    list_display = ("code", "name", "is_active", "cadence", "due", "table_list", "created_at")
    list_filter = ("is_active", "cadence", "tables")
    search_fields = ("code", "name", "contact_emails")
    filter_horizontal = ("tables",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active", "contact_emails")}),
        ("Obligations", {"fields": ("tables", "cadence", "due_day", "obligations_from")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ["collapse"]}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tables")

    @admin.display(description="due")
    def due(self, obj: Distributor) -> str:
        return distributor_due_text(cadence=obj.cadence, due_day=obj.due_day)

    @admin.display(description="tables")
    def table_list(self, obj: Distributor) -> str:
        return ", ".join(sorted(t.table_name for t in obj.tables.all())) or "-"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the engine writes: shown, never added or changed here; a superuser may delete one."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.concrete_fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    """Read-only: batches are recorded by the upload engine."""

    list_display = (
        "batch_id",
        "source",
        "mode",
        "dist_id",
        "distributor",
        "forced",
        "created_by",
        "created_at",
    )
    list_filter = ("source", "mode", "distributor", "forced")
    search_fields = ("batch_id", "dist_id")
    date_hierarchy = "created_at"


@admin.register(InboxClaim)
class InboxClaimAdmin(ReadOnlyAdmin):
    """Read-only: claims are made by the inbox scans. A superuser may delete one (the file or message is then
    taken again by the next scan, if it is still there)."""

    list_display = ("kind", "source", "name", "sender", "state", "batch_id", "claimed_at", "updated_at")
    list_filter = ("kind", "state", "source")
    search_fields = ("name", "sender", "message_id", "batch_id")
    date_hierarchy = "claimed_at"
