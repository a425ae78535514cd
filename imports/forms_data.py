"""The data page's filter form: the row filters of the exports, plus a search, a job select and a page size."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils import timezone

from tableconfig.models import ImportTable

from .forms import RowFilterForm
from .models import ImportJob, JobStatus
from .services.export import PAGE_SIZES, PREVIEW_ROWS, RowFilter

# How many of a table's latest complete jobs the job select offers (any other job id still filters).
JOBS_OFFERED = 50


def _job_label(job: ImportJob) -> str:
    when = f"{timezone.localtime(job.completed_at):%Y-%m-%d %H:%M}" if job.completed_at else ""
    return f"#{job.pk} {job.original_filename or job.source_name} {when} ({job.success_count:,} rows)".strip()


class DataFilterForm(RowFilterForm):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="Text contained in any text column (case and accents ignored).",
    )
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=PREVIEW_ROWS,
        choices=[(n, f"{n} rows") for n in PAGE_SIZES],
        initial=PREVIEW_ROWS,
        label="Per page",
    )

    field_order = ["q", "job", "batch", "dist_id", "per_page"]

    def __init__(self, *args, table: ImportTable, **kwargs):
        super().__init__(*args, **kwargs)
        jobs = ImportJob.objects.filter(
            Q(table=table) | Q(table_name=table.table_name), status=JobStatus.COMPLETE
        ).order_by("-id")[:JOBS_OFFERED]
        choices = [("", "Every job"), *((job.pk, _job_label(job)) for job in jobs)]
        chosen = self["job"].value() if self.is_bound else None
        if chosen and str(chosen) not in {str(value) for value, _ in choices}:
            choices.append((chosen, f"Job #{chosen}"))
        self.fields["job"].widget = forms.Select(choices=choices)
        self.fields["job"].label = "Job"
        self.fields["job"].help_text = "The table's latest complete imports."

    def row_filter(self) -> RowFilter:
        base = super().row_filter()
        return RowFilter(
            batch_id=base.batch_id,
            job_id=base.job_id,
            dist_id=base.dist_id,
            search=(self.cleaned_data.get("q") or "").strip(),
        )

    @property
    def page_size(self) -> int:
        return (
            self.cleaned_data.get("per_page") if self.is_bound and self.is_valid() else None
        ) or PREVIEW_ROWS
