"""The batch page's header mapping: the unmatched headers with a choice of the free columns, the form only for
users who may map, and saving it (aliases created, the file re-run, or nothing saved with the reason)."""

import pytest
from django.urls import reverse

from imports.models import ImportJob, JobStatus
from tableconfig.models import Alias
from tableconfig.services import alias_delete
from tests.imports.conftest import table_count

from .conftest import submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def refused(demo_tables, staff) -> ImportJob:
    """sales_aliases.csv refused: the sales table does not read `DO Date` yet."""
    alias_delete(alias=Alias.objects.get(column__table__table_name="sales", alias_name="do_date"))
    batch = submit("sales_aliases.csv", user=staff)
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_aliases.csv")
    assert job.status == JobStatus.VALIDATION_FAILED
    return job


def batch_page(client, job: ImportJob):
    return client.get(reverse("batch-detail", args=[job.batch_id]))


def test_batch_page_offers_the_unmatched_headers_with_the_free_columns(staff_client, refused):
    html = batch_page(staff_client, refused).content.decode()

    assert f'id="file-{refused.id}-mapping"' in html
    assert '<input type="hidden" name="header" value="DO Date">' in html
    assert '<input type="hidden" name="header" value="Remark">' in html
    assert '<option value="dotanggal" data-mandatory>dotanggal — mandatory, missing</option>' in html
    # Columns the file already feeds are not offered.
    assert '<option value="dono"' not in html
    assert "Save aliases and re-run this file" in html


def test_batch_page_hides_the_form_without_the_alias_permission(client, make_user, demo_tables):
    uploader = make_user("uploader", perms=["imports.add_importjob"], is_staff=True)
    alias_delete(alias=Alias.objects.get(column__table__table_name="sales", alias_name="do_date"))
    batch = submit("sales_aliases.csv", user=uploader)
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_aliases.csv")
    client.force_login(uploader)

    html = batch_page(client, job).content.decode()

    assert "Headers no column reads" in html and '<li class="mono">DO Date</li>' in html
    assert reverse("job-mapping", args=[job.batch_id, job.id]) not in html
    assert "needs the permissions imports.add_importjob and tableconfig.add_alias" in html
    response = client.post(
        reverse("job-mapping", args=[job.batch_id, job.id]), {"header": ["DO Date"], "column": ["dotanggal"]}
    )
    assert response.status_code == 403
    assert not Alias.objects.filter(alias_name="DO Date").exists()


def test_saving_the_mapping_creates_the_alias_and_reruns_the_file(staff_client, refused):
    response = staff_client.post(
        reverse("job-mapping", args=[refused.batch_id, refused.id]),
        {"header": ["DO Date", "Remark"], "column": ["dotanggal", ""]},
        follow=True,
    )

    assert response.redirect_chain[-1][0].endswith(f"/batches/{refused.batch_id}/#file-{refused.id}")
    html = response.content.decode()
    assert "Saved DO Date -&gt; dotanggal; sales_aliases.csv is checked again and queued." in html
    assert set(
        Alias.objects.filter(column__column_name="dotanggal").values_list("alias_name", flat=True)
    ) == {
        "tanggal",
        "DO Date",
    }
    job = ImportJob.objects.get(pk=refused.id)
    assert job.status == JobStatus.COMPLETE and job.success_count == 5
    assert table_count("sales") == 5
    # Every column is fed now (Remark stays ignored, with no column left for it): nothing more to map.
    assert f'id="file-{job.id}-mapping"' not in html


def test_saving_a_clash_saves_nothing_and_says_why(staff_client, demo_tables, staff):
    batch = submit("sales_quantity_twice.csv", user=staff)
    job = ImportJob.objects.get(batch_id=batch.batch_id, original_filename="sales_quantity_twice.csv")
    before = set(Alias.objects.values_list("pk", flat=True))

    response = staff_client.post(
        reverse("job-mapping", args=[job.batch_id, job.id]),
        {"header": ["Quantity", "Sales Total"], "column": ["exportdate", "amount_jual"]},
        follow=True,
    )

    html = response.content.decode()
    assert (
        "sales_quantity_twice.csv: nothing saved. The header &#x27;Quantity&#x27; (read as &#x27;quantity&#x27;) "
        "would belong to both &#x27;qty&#x27; and &#x27;exportdate&#x27;." in html
    )
    assert set(Alias.objects.values_list("pk", flat=True)) == before
    assert ImportJob.objects.get(pk=job.id).status == JobStatus.VALIDATION_FAILED


def test_mapping_page_action_needs_post_and_a_visible_job(staff_client, refused, make_user, client):
    url = reverse("job-mapping", args=[refused.batch_id, refused.id])
    assert staff_client.get(url).status_code == 405
    other = make_user("other", perms=["imports.add_importjob", "tableconfig.add_alias"])
    client.force_login(other)
    assert client.post(url, {"header": ["DO Date"], "column": ["dotanggal"]}).status_code == 404
    assert not Alias.objects.filter(alias_name="DO Date").exists()
