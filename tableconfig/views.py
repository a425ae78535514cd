"""Configuration pages: thin views over `tableconfig.services`, which validate and sync the physical tables."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from importhub.errors import ConfigError

from . import services
from .forms import (
    TABLE_SETTINGS_FIELDS,
    AliasForm,
    ColumnEditForm,
    ColumnForm,
    TableColumnFormSet,
    TableCreateForm,
    TableSettingsForm,
)
from .models import Alias, ColumnConfig, ImportTable

CONFIG_PERM = "tableconfig.change_importtable"


def permissions_required(*perms: str):
    """Login first; then a friendly 403 page, naming what is missing, for a user who lacks a permission."""
    needed = (CONFIG_PERM, *perms)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            missing = [p for p in needed if not request.user.has_perm(p)]
            if missing:
                return render(request, "tableconfig/forbidden.html", {"missing": missing}, status=403)
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def _table_with_columns(pk: int) -> ImportTable:
    columns = ColumnConfig.objects.prefetch_related("aliases").order_by("position", "id")
    return get_object_or_404(
        ImportTable.objects.prefetch_related(Prefetch("columns", queryset=columns)), pk=pk
    )


@permissions_required()
def table_list(request):
    tables = ImportTable.objects.annotate(column_count=Count("columns")).order_by("table_name")
    return render(request, "tableconfig/table_list.html", {"tables": tables})


@permissions_required("tableconfig.add_importtable", "tableconfig.add_columnconfig")
def table_create(request):
    form = TableCreateForm(request.POST or None)
    formset = TableColumnFormSet(request.POST or None, prefix="columns")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            table = services.import_table_create(**form.cleaned_data, columns=formset.columns())
        except ConfigError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"Table {table.table_name} created with {table.columns.count()} columns."
            )
            return redirect("config-table", pk=table.pk)
    return render(request, "tableconfig/table_create.html", {"form": form, "formset": formset})


@permissions_required()
def table_detail(request, pk: int):
    """The table's page: its settings (editable here), its columns and their aliases."""
    table = _table_with_columns(pk)
    initial = {name: getattr(table, name) for name in TABLE_SETTINGS_FIELDS}
    form = TableSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            messages.info(request, "Nothing to change.")
            return redirect("config-table", pk=table.pk)
        try:
            table, _ = services.import_table_update(table=table, **changes)
        except ConfigError as exc:
            form.add_error(None, exc.message)
            table = _table_with_columns(pk)
        else:
            messages.success(request, f"Table {table.table_name} saved.")
            return redirect("config-table", pk=table.pk)
    return render(
        request,
        "tableconfig/table_detail.html",
        {"table": table, "form": form, "alias_form": AliasForm()},
        status=400 if form.errors else 200,
    )


@permissions_required("tableconfig.add_columnconfig")
def column_create(request, pk: int):
    table = get_object_or_404(ImportTable, pk=pk)
    form = ColumnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            column = services.column_create(table=table, **form.column_data())
        except ConfigError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Column {column.column_name} added to {table.table_name}.")
            return redirect("config-table", pk=table.pk)
    return render(
        request,
        "tableconfig/column_form.html",
        {"table": table, "form": form, "column": None},
        status=400 if form.errors else 200,
    )


@permissions_required("tableconfig.change_columnconfig")
def column_edit(request, pk: int):
    column = get_object_or_404(ColumnConfig.objects.select_related("table"), pk=pk)
    initial = {name: getattr(column, name) for name in ColumnEditForm.base_fields if name != "column_name"}
    form = ColumnEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing to change.")
            return redirect("config-table", pk=column.table_id)
        try:
            column, done = services.column_update(column=column, **changes)
        except ConfigError as exc:
            form.add_error(None, exc.message)
            column = ColumnConfig.objects.select_related("table").get(pk=pk)
        else:
            note = f" Database: {'; '.join(done)}." if done else ""
            messages.success(request, f"Column {column.column_name} saved.{note}")
            return redirect("config-table", pk=column.table_id)
    return render(
        request,
        "tableconfig/column_form.html",
        {"table": column.table, "form": form, "column": column},
        status=400 if form.errors else 200,
    )


@permissions_required("tableconfig.add_alias")
@require_POST
def alias_create(request, pk: int):
    column = get_object_or_404(ColumnConfig.objects.select_related("table"), pk=pk)
    form = AliasForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Alias for {column.column_name}: {form.errors['alias_name'][0]}")
    else:
        try:
            alias = services.alias_create(column=column, alias_name=form.cleaned_data["alias_name"])
        except ConfigError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Alias '{alias.alias_name}' added to {column.column_name}.")
    return redirect("config-table", pk=column.table_id)


@permissions_required("tableconfig.delete_alias")
@require_POST
def alias_delete(request, pk: int):
    alias = get_object_or_404(Alias.objects.select_related("column"), pk=pk)
    table_id = alias.column.table_id
    services.alias_delete(alias=alias)
    messages.success(request, f"Alias '{alias.alias_name}' removed from {alias.column.column_name}.")
    return redirect("config-table", pk=table_id)
