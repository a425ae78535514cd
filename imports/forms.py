"""Forms of the staff pages: they read and type the request; the services decide what is valid."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone

from tableconfig.models import ImportTable

from .models import BatchSource, Distributor, ImportMode
from .selectors import BATCH_STATUSES
from .services.distributors import distributors_required
from .services.export import RowFilter

BATCH_STATUS_LABELS = {status: status.replace("_", " ").capitalize() for status in BATCH_STATUSES}

# What each mode does, in the upload page's words (the choice's label, then its description).
MODE_CHOICES = [
    (ImportMode.BOTH, "Validate, then import (default)"),
    (ImportMode.DRY_RUN, "Dry run: check every row, load nothing"),
    (ImportMode.FULL, "Validate and import"),
    (ImportMode.QUICK, "Quick check only"),
]
MODE_DESCRIPTIONS = {
    ImportMode.BOTH: "Checks each file's name, headers and first rows at once, then imports every valid row in "
    "the background; rows with bad values are rejected and listed, the rest are loaded.",
    ImportMode.DRY_RUN: "Checks every row exactly as the import would and loads nothing. The batch page then "
    "lists the rejected rows and offers to import the checked files without uploading them again (kept "
    "{hours} hours).",
    ImportMode.FULL: "The same as validate, then import; the API answers 202 Accepted, as the older app's "
    "full mode did.",
    ImportMode.QUICK: "Checks each file's name, headers and first rows and answers at once; nothing is stored "
    "or imported.",
}


class PageForm(forms.Form):
    """Labels without a trailing colon: the pages set them above their fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; none at all is left to the engine, which says so in its own words."""

    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        clean_one = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [clean_one(f, initial) for f in files if f]


class UploadForm(PageForm):
    files = MultipleFileField(
        label="Files",
        help_text="One or more .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files. A ZIP may hold several data "
        "files.",
        widget=MultipleFileInput(attrs={"accept": ".csv,.txt,.xlsx,.xlsm,.xls,.ods,.zip"}),
    )
    table_name = forms.ChoiceField(
        label="Target table",
        initial="auto",
        help_text="Auto picks each file's table from its name.",
    )
    mode = forms.ChoiceField(
        label="Mode",
        choices=MODE_CHOICES,
        initial=ImportMode.BOTH,
        help_text="What each mode does is explained below the form.",
    )
    dist_id = forms.CharField(
        label="Distributor id",
        required=False,
        max_length=50,
        help_text="Optional: every file's distributor column must start with it.",
    )
    force = forms.BooleanField(
        label="Import even if already imported",
        required=False,
        help_text="A file whose identical content was already imported into its table is otherwise refused.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tables = list(ImportTable.objects.filter(is_active=True).order_by("table_name"))
        self.tables = tables
        if distributors_required():
            self.fields["dist_id"].help_text = (
                "Required: the code of a distributor (see Distributors); every file's distributor column must "
                "start with it."
            )
        self.fields["table_name"].choices = [("auto", "Auto (from the file name)")] + [
            (t.table_name, f"{t} ({t.table_name})" if str(t) != t.table_name else t.table_name)
            for t in tables
        ]

    def mode_descriptions(self) -> list[tuple[str, str, str]]:
        """(value, label, what it does) for each mode, in the choices' order."""
        hours = f"{settings.DRY_RUN_KEEP_HOURS:g}"
        return [(value, label, MODE_DESCRIPTIONS[value].format(hours=hours)) for value, label in MODE_CHOICES]

    def expected_names(self) -> list[dict]:
        """Each active table's expected file names (a file is matched by its name without extension)."""
        return [
            {
                "table": t,
                "names": t.filename_entries,
                "expected_in_batch": t.expected_in_batch,
            }
            for t in self.tables
        ]


class DateInput(forms.DateInput):
    input_type = "date"


class BatchFilterForm(PageForm):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *BATCH_STATUS_LABELS.items()], label="Status"
    )
    table_name = forms.ChoiceField(required=False, label="Table")
    dist_id = forms.CharField(required=False, max_length=50, label="Distributor id")
    distributor = forms.ChoiceField(required=False, label="Distributor")
    source = forms.ChoiceField(
        required=False, choices=[("", "Any source"), *BatchSource.choices], label="Source"
    )
    created_after = forms.DateField(required=False, label="From", widget=DateInput)
    created_before = forms.DateField(required=False, label="To", widget=DateInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = ImportTable.objects.order_by("table_name").values_list("table_name", flat=True)
        self.fields["table_name"].choices = [("", "Any table"), *((n, n) for n in names)]
        self.fields["distributor"].choices = [
            ("", "Any distributor"),
            *((d.code, str(d)) for d in Distributor.objects.order_by("code")),
        ]

    def clean(self):
        data = super().clean()
        for name, moment in (("created_after", dt.time.min), ("created_before", dt.time.max)):
            if data.get(name):
                data[f"{name}_at"] = self._day_bound(name, data[name], moment)
        start, end = data.get("created_after"), data.get("created_before")
        if start and end and start > end:
            raise forms.ValidationError("The 'From' date is after the 'To' date.", code="date_range")
        return data

    def _day_bound(self, name: str, day: dt.date, moment: dt.time) -> dt.datetime | None:
        """The day's first or last moment in the site's time zone; None (and the field's error) when it has no
        UTC equivalent the database can compare (the first or last day of the calendar)."""
        try:
            bound = timezone.make_aware(dt.datetime.combine(day, moment))
            bound.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            self.add_error(
                name,
                forms.ValidationError(
                    "Enter a date between 0002-01-01 and 9998-12-31.", code="date_out_of_range"
                ),
            )
            return None
        return bound

    def selector_kwargs(self) -> dict:
        """The filters as `batches_list` takes them; whole days in the site's time zone."""
        data = self.cleaned_data
        return {
            "status": data.get("status") or None,
            "table_name": data.get("table_name") or None,
            "dist_id": (data.get("dist_id") or "").strip() or None,
            "distributor": data.get("distributor") or None,
            "source": data.get("source") or None,
            "created_after": data.get("created_after_at"),
            "created_before": data.get("created_before_at"),
        }


PAGE_MAX = 1_000_000


def page_number_clean(raw: str | None) -> tuple[int, str]:
    """A list page's number from the query string, and why it was refused ("" when it was not)."""
    if raw in (None, ""):
        return 1, ""
    try:
        page = int(raw) if len(raw) <= 20 else 0
    except ValueError:
        page = 0
    if not 1 <= page <= PAGE_MAX:
        return 1, f"page: '{raw[:40]}' is not a page number (a whole number from 1 to {PAGE_MAX:,})."
    return page, ""


class RowFilterForm(PageForm):
    batch = forms.UUIDField(required=False, label="Batch id")
    # A job id is a 64-bit integer: larger numbers cannot be compared in SQL (SQLite raises an overflow).
    job = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Job id")
    dist_id = forms.CharField(
        required=False,
        max_length=50,
        label="Distributor id",
        help_text="Matches the distributor column; without one, the id the upload declared.",
    )

    def row_filter(self) -> RowFilter:
        """The filter of a valid form."""
        data = self.cleaned_data
        return RowFilter(
            batch_id=data.get("batch"), job_id=data.get("job"), dist_id=(data.get("dist_id") or "").strip()
        )
