"""The data page through Django's test client: the count of matching rows, pages, the search over text
columns (wildcards literal, case and accents ignored) and the job select."""

import html
import re

import pytest

from imports.models import ImportJob, JobStatus

from .conftest import submit

pytestmark = pytest.mark.django_db(transaction=True)


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def skus(response) -> list[str]:
    return [row[0] for row in response.context["preview"].rows]


@pytest.fixture
def search_batch(staff, demo_tables):
    batch = submit("products_search.csv", user=staff, table_name="products")
    assert ImportJob.objects.get(batch_id=batch.batch_id).status == JobStatus.COMPLETE
    return batch


@pytest.fixture
def sales_10k(staff, demo_tables):
    batch = submit("sales_10k_37bad.csv", user=staff)
    job = ImportJob.objects.get(batch_id=batch.batch_id, table_name="sales")
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, 9_963)
    return job


def test_data_page_counts_the_rows_and_pages_them(staff_client, sales_10k):
    first = staff_client.get("/data/sales/?per_page=50")
    assert first.status_code == 200
    preview = first.context["preview"]
    assert (preview.total, len(preview.rows), preview.pages) == (9_963, 50, 200)
    text = page_text(first)
    assert "9,963 rows" in text and "(showing 1–50, newest first)" in text
    assert 'href="?per_page=50&amp;page=2"' in first.content.decode()
    assert 'href="?per_page=50&amp;page=200"' in first.content.decode()

    second = staff_client.get("/data/sales/?per_page=50&page=2")
    assert "(showing 51–100, newest first)" in page_text(second)
    assert [r[-2] for r in first.context["preview"].rows] == [sales_10k.id] * 50

    last = staff_client.get("/data/sales/?per_page=50&page=200")
    assert len(last.context["preview"].rows) == 13
    assert "(showing 9,951–9,963, newest first)" in page_text(last)
    # Past the last page: the last page.
    assert staff_client.get("/data/sales/?per_page=50&page=999").context["preview"].page == 200

    big = staff_client.get("/data/sales/?per_page=200")
    assert len(big.context["preview"].rows) == 200 and big.context["preview"].pages == 50
    assert staff_client.get("/data/sales/").context["preview"].limit == 100


def test_pages_do_not_overlap(staff_client, sales_10k):
    seen = []
    for page in (1, 2, 3):
        response = staff_client.get(f"/data/sales/?per_page=200&page={page}")
        seen.extend(tuple(r) for r in response.context["preview"].rows)
    assert len(seen) == len(set(seen)) == 600


@pytest.mark.parametrize(
    "query, message",
    [
        ("page=abc", "page: 'abc' is not a page number"),
        ("page=0", "page: '0' is not a page number"),
        ("per_page=7", "Select a valid choice. 7 is not one of the available choices."),
    ],
    ids=["page-text", "page-zero", "page-size"],
)
def test_bad_page_or_page_size_is_a_400_saying_why(staff_client, search_batch, query, message):
    response = staff_client.get(f"/data/products/?{query}")
    assert response.status_code == 400
    assert message in page_text(response)
    assert response.context["preview"] is None


@pytest.mark.parametrize(
    "search, expected",
    [
        ("50%_", ["S001"]),
        ("50%", ["S001", "S002", "S004"]),
        ("0x_o", ["S003"]),
        ("café", ["S005", "S006"]),
        ("CRÈME", ["S005", "S006"]),
        ("cafe creme", ["S005", "S006"]),
        ("!", ["S008"]),
        ("s00", ["S001", "S002", "S003", "S004", "S005", "S006", "S007", "S008"]),
        ("nothing like it", []),
    ],
    ids=[
        "percent-underscore",
        "percent",
        "underscore",
        "accent",
        "accent-upper",
        "no-accents",
        "escape-char",
        "sku-column",
        "no-match",
    ],
)
def test_search_matches_text_columns_literally_ignoring_case_and_accents(
    staff_client, search_batch, search, expected
):
    response = staff_client.get("/data/products/", {"q": search})
    assert response.status_code == 200
    assert sorted(skus(response)) == expected
    assert response.context["preview"].total == len(expected)
    text = page_text(response)
    assert (f"{len(expected)} row" in text) if expected else ("No row matches these filters." in text)


def test_search_is_kept_by_the_export_links_and_filters_the_exports(staff_client, search_batch):
    response = staff_client.get("/data/products/", {"q": "50%_"})
    assert 'href="/data/products/export.csv?q=50%25_"' in response.content.decode()
    export = staff_client.get("/data/products/export.csv?q=50%25_")
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["S001"]


def test_search_does_not_look_in_numbers(staff_client, search_batch):
    # "14.00" is S005's price: a number, not text.
    assert skus(staff_client.get("/data/products/", {"q": "14.00"})) == []


def test_job_select_offers_the_tables_complete_jobs_and_filters_by_one(staff_client, staff, search_batch):
    other = submit("products.csv", user=staff, table_name="products")
    failed = submit("empty.csv", user=staff, table_name="products")
    first = ImportJob.objects.get(batch_id=search_batch.batch_id)
    second = ImportJob.objects.get(batch_id=other.batch_id)
    bad = ImportJob.objects.get(batch_id=failed.batch_id)
    assert bad.status != JobStatus.COMPLETE

    response = staff_client.get("/data/products/")
    choices = dict(response.context["form"].fields["job"].widget.choices)
    # Every job first, then the complete jobs, newest first; the failed one is not offered.
    assert list(choices) == ["", second.pk, first.pk]
    assert choices[first.pk].startswith(f"#{first.pk} products_search.csv ")
    assert re.search(
        rf'<option value="{first.pk}">#{first.pk} products_search.csv', response.content.decode()
    )

    only_first = staff_client.get(f"/data/products/?job={first.pk}")
    assert sorted(skus(only_first)) == [f"S00{i}" for i in range(1, 9)]
    assert f'<option value="{first.pk}" selected>' in only_first.content.decode()
    total = ImportJob.objects.get(pk=second.pk).success_count
    assert staff_client.get(f"/data/products/?job={second.pk}").context["preview"].total == total


def test_job_filter_takes_a_job_the_select_does_not_offer(staff_client, staff, search_batch):
    failed = submit("empty.csv", user=staff, table_name="products")
    bad = ImportJob.objects.get(batch_id=failed.batch_id)
    response = staff_client.get(f"/data/products/?job={bad.pk}")
    assert response.status_code == 200
    assert response.context["preview"].total == 0
    assert f'<option value="{bad.pk}" selected>Job #{bad.pk}</option>' in response.content.decode()
    assert "No row matches these filters." in page_text(response)
