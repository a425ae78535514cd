"""Distributors as records: the service's rules, field by field; which distributor an upload names under
DISTRIBUTORS_REQUIRED; batches and jobs carrying it; and status 0 following its obligations."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import Distributor, ImportBatch, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.distributors import (
    DistributorInvalid,
    DistributorRefused,
    distributor_create,
    distributor_for_upload,
    distributor_obligations_text,
    distributor_update,
)

from .conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)

VALID = {"code": "31001", "name": "PT Sumber Makmur"}


@pytest.mark.parametrize(
    ("changes", "field", "code", "message"),
    [
        ({"code": ""}, "code", "code_required", "code: required: the code uploads carry as dist_id."),
        (
            {"code": "31 001"},
            "code",
            "invalid_code",
            "code: '31 001' is not a code: 1 to 50 letters, digits, '-', '_' or '.'.",
        ),
        (
            {"code": "x" * 51},
            "code",
            "invalid_code",
            f"code: '{'x' * 51}' is not a code: 1 to 50 letters, digits, '-', '_' or '.'.",
        ),
        ({"code": "dist/1"}, "code", "invalid_code", None),
        ({"name": "  "}, "name", "name_required", "name: required."),
        ({"name": "n" * 201}, "name", "name_too_long", "name: 201 characters, at most 200."),
        (
            {"contact_emails": ["ok@example.com", "not-an-address"]},
            "contact_emails",
            "invalid_email",
            "contact_emails: 'not-an-address' is not a valid e-mail address.",
        ),
        (
            {"contact_emails": "ok@example.com"},
            "contact_emails",
            "invalid_emails",
            "contact_emails: a list of e-mail addresses is expected.",
        ),
        (
            {"tables": ["sales", "invoices"]},
            "tables",
            "unknown_table",
            "tables: no import table named 'invoices'; the configured tables are listed at /api/tables.",
        ),
        (
            {"cadence": "yearly"},
            "cadence",
            "invalid_cadence",
            "cadence: 'yearly' is not a cadence; use daily, weekly or monthly.",
        ),
        (
            {"due_day": 29},
            "due_day",
            "invalid_due_day",
            "due_day: 29 is not a due day for a monthly cadence: from 1 to 28 (the day of the following month).",
        ),
        ({"due_day": 0}, "due_day", "invalid_due_day", None),
        (
            {"cadence": "weekly", "due_day": 8},
            "due_day",
            "invalid_due_day",
            "due_day: 8 is not a due day for a weekly cadence: from 1 to 7 (1 = Monday ... 7 = Sunday).",
        ),
    ],
    ids=[
        "code-empty",
        "code-space",
        "code-51-chars",
        "code-slash",
        "name-blank",
        "name-too-long",
        "email-invalid",
        "emails-not-a-list",
        "table-unknown",
        "cadence-unknown",
        "monthly-day-29",
        "monthly-day-0",
        "weekly-day-8",
    ],
)
def test_distributor_create_refuses_each_bad_field(demo_tables, changes, field, code, message):
    with pytest.raises(DistributorInvalid) as refused:
        distributor_create(**{**VALID, **changes})
    assert (refused.value.field, refused.value.code) == (field, code)
    assert refused.value.details == {"field": field}
    if message:
        assert refused.value.message == message
    assert not Distributor.objects.exists()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"cadence": "monthly", "due_day": 10, "is_active": True, "contact_emails": []}),
        ({"cadence": "monthly", "due_day": 28}, {"due_day": 28}),
        ({"cadence": "weekly"}, {"cadence": "weekly", "due_day": 1}),
        ({"cadence": "weekly", "due_day": 7}, {"due_day": 7}),
        ({"cadence": "daily", "due_day": 25}, {"cadence": "daily", "due_day": 1}),
        (
            {"contact_emails": [" a@example.com ", "A@example.com", "", "b@example.org"]},
            {"contact_emails": ["a@example.com", "b@example.org"]},
        ),
        ({"code": "dist-31.a_b"}, {"code": "dist-31.a_b"}),
    ],
    ids=[
        "defaults",
        "monthly-28",
        "weekly-default-monday",
        "weekly-sunday",
        "daily-ignored",
        "emails",
        "code-chars",
    ],
)
def test_distributor_create_accepts_and_normalises(demo_tables, changes, expected):
    distributor = distributor_create(**{**VALID, **changes})
    stored = Distributor.objects.get(pk=distributor.pk)
    assert {name: getattr(stored, name) for name in expected} == expected


def test_distributor_code_is_unique_whatever_its_case(demo_tables):
    distributor_create(code="ab-1", name="First")
    with pytest.raises(DistributorInvalid) as refused:
        distributor_create(code="AB-1", name="Second")
    assert refused.value.code == "duplicate_code"
    assert refused.value.message == "code: 'AB-1' is already the code of First."
    assert list(Distributor.objects.values_list("name", flat=True)) == ["First"]


def test_distributor_update_changes_some_fields_and_checks_the_result(demo_tables):
    distributor = distributor_create(**VALID, tables=["sales", "stocks"], due_day=15)
    distributor_update(distributor=distributor, name="Sumber", tables=["sales"])
    stored = Distributor.objects.get(pk=distributor.pk)
    assert (stored.name, stored.due_day, [t.table_name for t in stored.tables.all()]) == (
        "Sumber",
        15,
        ["sales"],
    )
    # Weekly with the monthly day 15 kept would be refused; the change must name a weekday.
    with pytest.raises(DistributorInvalid) as refused:
        distributor_update(distributor=stored, cadence="weekly", due_day=15)
    assert refused.value.code == "invalid_due_day"
    distributor_update(distributor=Distributor.objects.get(pk=distributor.pk), cadence="weekly")
    assert Distributor.objects.get(pk=distributor.pk).due_day == 1
    # Its own code is not a duplicate of itself.
    distributor_update(distributor=Distributor.objects.get(pk=distributor.pk), code="31001")


def test_distributor_obligations_text(demo_tables):
    monthly = distributor_create(**VALID, tables=["stocks", "sales"])
    weekly = distributor_create(code="w", name="W", tables=["sales"], cadence="weekly", due_day=5)
    daily = distributor_create(code="d", name="D", cadence="daily")
    assert (
        distributor_obligations_text(monthly) == "sales, stocks - monthly, due day 10 of the following month"
    )
    assert distributor_obligations_text(weekly) == "sales - weekly, due Friday of the following week"
    assert distributor_obligations_text(daily) == "nothing (daily, due the next day)"


# --- Which distributor an upload names ---------------------------------------------------------------


@pytest.fixture
def distributors(demo_tables):
    return {
        "active": distributor_create(code="31001", name="Active", tables=["sales"]),
        "inactive": distributor_create(code="42001", name="Dormant", is_active=False),
    }


@pytest.mark.parametrize(
    ("rule", "dist_id", "answer"),
    [
        ("auto", "31001", "active"),
        ("auto", "42001", "inactive_distributor"),
        ("auto", "31009", "unknown_distributor"),
        ("auto", "", "dist_id_required"),
        ("on", "31001", "active"),
        ("on", "31009", "unknown_distributor"),
        ("on", "42001", "inactive_distributor"),
        ("on", "  ", "dist_id_required"),
        ("off", "31001", "active"),
        ("off", "42001", "inactive"),
        ("off", "31009", None),
        ("off", "", None),
    ],
    ids=lambda v: repr(v),
)
def test_distributor_for_upload_follows_the_rule(settings, distributors, rule, dist_id, answer):
    settings.DISTRIBUTORS_REQUIRED = rule
    if answer and answer.endswith(("_distributor", "_required")):
        with pytest.raises(DistributorRefused) as refused:
            distributor_for_upload(dist_id=dist_id)
        assert refused.value.code == answer and refused.value.details == {"field": "dist_id"}
        return
    found = distributor_for_upload(dist_id=dist_id)
    assert found == (distributors[answer] if answer else None)


@pytest.mark.parametrize(("rule", "required"), [("auto", False), ("on", True), ("off", False)])
def test_distributor_for_upload_without_any_distributor(settings, db, rule, required):
    settings.DISTRIBUTORS_REQUIRED = rule
    if required:
        with pytest.raises(DistributorRefused) as refused:
            distributor_for_upload(dist_id="31001")
        assert refused.value.message == (
            "dist_id '31001' matches no distributor; ask an administrator to add it, or check the code."
        )
    else:
        assert distributor_for_upload(dist_id="31001") is None


def test_distributor_for_upload_messages(distributors):
    with pytest.raises(DistributorRefused) as unknown:
        distributor_for_upload(dist_id="31009")
    assert unknown.value.message == (
        "dist_id '31009' matches no distributor; ask an administrator to add it, or check the code."
    )
    with pytest.raises(DistributorRefused) as inactive:
        distributor_for_upload(dist_id="42001")
    assert inactive.value.message == (
        "dist_id '42001' is the distributor Dormant, which is inactive: its uploads are refused until an "
        "administrator makes it active again."
    )
    with pytest.raises(DistributorRefused) as empty:
        distributor_for_upload(dist_id="")
    assert empty.value.message.startswith("dist_id is required: every upload must name its distributor")
    # The code is matched exactly, also on MariaDB where the column's collation ignores case.
    Distributor.objects.filter(code="31001").update(code="ab1")
    with pytest.raises(DistributorRefused):
        distributor_for_upload(dist_id="AB1")


# --- Batches: the distributor carried, and status 0 from its obligations --------------------------------


def submit(*names: str, dist_id: str = "", mode: str = "full"):
    uploads = []
    for name in names:
        f = SimpleUploadedFile(name, (DATA / name).read_bytes())
        uploads.append(Upload(name=f.name, chunks=f.chunks(), size=f.size))
    return import_batch_submit(uploads=uploads, mode=mode, dist_id=dist_id)


def _skipped(batch_id) -> list[tuple[str, str]]:
    jobs = ImportJob.objects.filter(batch_id=batch_id, status=JobStatus.SKIPPED).order_by("table_name")
    return [(j.table_name, j.notes) for j in jobs]


def test_batch_status_0_is_the_obligation_tables_not_sent(demo_tables):
    distributor_create(code="31001", name="Sumber", tables=["sales", "stocks"])
    batch = submit("sales_small.csv", dist_id="31001")
    # products is expected in every batch, but this distributor does not owe it.
    assert _skipped(batch.batch_id) == [("stocks", "File not uploaded: expected stock, stocks, stock_*")]
    jobs = ImportJob.objects.filter(batch_id=batch.batch_id)
    assert {(j.table_name, j.status, j.distributor.code) for j in jobs} == {
        ("sales", JobStatus.COMPLETE, "31001"),
        ("stocks", JobStatus.SKIPPED, "31001"),
    }
    assert ImportBatch.objects.get(batch_id=batch.batch_id).distributor.code == "31001"


def test_batch_status_0_counts_a_refused_file_as_sent_and_skips_inactive_tables(demo_tables):
    from tableconfig.models import ImportTable

    distributor_create(code="31001", name="Sumber", tables=["sales", "stocks", "products"])
    ImportTable.objects.filter(table_name="products").update(is_active=False)
    batch = submit("sales_missing_cols.csv", "stock_jan.csv", dist_id="31001")
    sales = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_missing_cols.csv")
    assert (sales.table_name, sales.status) == ("sales", JobStatus.VALIDATION_FAILED)
    assert _skipped(batch.batch_id) == []


def test_batch_status_0_without_obligations_is_todays_rule(demo_tables):
    distributor_create(code="31001", name="No obligations")
    with_distributor = submit("sales_small.csv", dist_id="31001")
    assert [t for t, _ in _skipped(with_distributor.batch_id)] == ["products", "stocks"]


def test_batch_status_0_without_a_distributor_is_todays_rule(settings, demo_tables):
    settings.DISTRIBUTORS_REQUIRED = "off"
    distributor_create(code="31001", name="Owes sales only", tables=["sales"])
    batch = submit("sales_small.csv", dist_id="31999")
    assert [t for t, _ in _skipped(batch.batch_id)] == ["products", "stocks"]
    assert not ImportJob.objects.filter(batch_id=batch.batch_id, distributor__isnull=False).exists()
