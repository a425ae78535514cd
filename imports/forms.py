"""Forms of the staff pages: they read and type the request; the services decide what is valid."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from tableconfig.models import ImportTable

from .models import ImportMode
from .selectors import BATCH_STATUSES
from .services.export import RowFilter

BATCH_STATUS_LABELS = {status: status.replace("_", " ").capitalize() for status in BATCH_STATUSES}


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
        help_text="One or more .csv, .txt or .zip files. A ZIP may hold several data files.",
        widget=MultipleFileInput(attrs={"accept": ".csv,.txt,.zip"}),
    )
    table_name = forms.ChoiceField(
        label="Target table",
        initial="auto",
        help_text="Auto picks each file's table from its name.",
    )
    mode = forms.ChoiceField(
        label="Mode",
        choices=ImportMode.choices,
        initial=ImportMode.BOTH,
        help_text="Quick validation only checks the files; the other modes import the valid ones.",
    )
    dist_id = forms.CharField(
        label="Distributor id",
        required=False,
        max_length=50,
        help_text="Optional: every file's distributor column must start with it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tables = ImportTable.objects.filter(is_active=True).order_by("table_name")
        self.fields["table_name"].choices = [("auto", "Auto (from the file name)")] + [
            (t.table_name, f"{t} ({t.table_name})" if str(t) != t.table_name else t.table_name)
            for t in tables
        ]


class DateInput(forms.DateInput):
    input_type = "date"


class BatchFilterForm(PageForm):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *BATCH_STATUS_LABELS.items()], label="Status"
    )
    table_name = forms.ChoiceField(required=False, label="Table")
    dist_id = forms.CharField(required=False, max_length=50, label="Distributor id")
    created_after = forms.DateField(required=False, label="From", widget=DateInput)
    created_before = forms.DateField(required=False, label="To", widget=DateInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = ImportTable.objects.order_by("table_name").values_list("table_name", flat=True)
        self.fields["table_name"].choices = [("", "Any table"), *((n, n) for n in names)]

    def clean(self):
        data = super().clean()
        start, end = data.get("created_after"), data.get("created_before")
        if start and end and start > end:
            raise forms.ValidationError("The 'From' date is after the 'To' date.", code="date_range")
        return data

    def selector_kwargs(self) -> dict:
        """The filters as `batches_list` takes them; whole days in the site's time zone."""
        data = self.cleaned_data
        start, end = data.get("created_after"), data.get("created_before")
        return {
            "status": data.get("status") or None,
            "table_name": data.get("table_name") or None,
            "dist_id": (data.get("dist_id") or "").strip() or None,
            "created_after": timezone.make_aware(dt.datetime.combine(start, dt.time.min)) if start else None,
            "created_before": timezone.make_aware(dt.datetime.combine(end, dt.time.max)) if end else None,
        }


class RowFilterForm(PageForm):
    batch = forms.UUIDField(required=False, label="Batch id")
    job = forms.IntegerField(required=False, min_value=1, label="Job id")
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
