"""The compliance scenario the rules, the pages, the CSV and the API are tested on: three distributors with
monthly sales and stock obligations over three months of real imports through the engine, the upload dates
set on the jobs. North sends everything on time; South sends September's sales late and October's with two
rejected rows; East never sends October's stock."""

import datetime as dt

from django.utils import timezone

from imports.models import Distributor, ImportJob, JobStatus
from imports.services.batches import Upload, import_batch_submit
from tableconfig.models import ImportTable

SALES_HEADER = "distid,dono,dotanggal,custid,sku,qty,amount_jual,exportdate\n"


def sales_file(code: str, month: int, *, rows: int, bad: int = 0) -> bytes:
    lines = [
        f"{code},DO{code}{month:02d}{n:04d},2026-{month:02d}-{n % 27 + 1:02d},C{n:05d},{n:05d},{n % 7 + 1},"
        f"{n}.25,2026-{month:02d}-28 10:00:00\n"
        for n in range(rows)
    ]
    lines += [f"{code},DOBAD{n},2026-{month:02d}-45,C1,1,1,1.00,\n" for n in range(bad)]
    return (SALES_HEADER + "".join(lines)).encode()


def stock_file(rows: int) -> bytes:
    body = "".join(f"SKU{n:04d},WH1,{n * 3}\n" for n in range(rows))
    return ("sku,warehouse_code,stock_pcs\n" + body).encode()


def send(code: str, name: str, content: bytes, *, on: dt.datetime) -> list[ImportJob]:
    batch = import_batch_submit(uploads=[Upload(name=name, chunks=[content])], mode="full", dist_id=code)
    jobs = list(ImportJob.objects.filter(batch_id=batch.batch_id).exclude(status=JobStatus.SKIPPED))
    ImportJob.objects.filter(pk__in=[j.pk for j in jobs]).update(created_at=on)
    return jobs


def at(month: int, day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, month, day, 9, 30))


def three_distributors_make() -> list[Distributor]:
    """The scenario, after the demo tables are loaded (the `three_distributors` fixture)."""
    tables = list(ImportTable.objects.filter(table_name__in=["sales", "stocks"]))
    made = []
    for code, name in (("31001", "North"), ("31002", "South"), ("31003", "East")):
        d = Distributor.objects.create(
            code=code, name=name, cadence="monthly", due_day=10, obligations_from=dt.date(2026, 8, 1)
        )
        d.tables.set(tables)
        made.append(d)
    for code in ("31001", "31002", "31003"):
        for month in (8, 9, 10):
            sales_on = at(month + 1, 5)
            bad = 0
            if code == "31002" and month == 9:
                sales_on = at(10, 14)
            if code == "31002" and month == 10:
                bad = 2
            jobs = send(
                code,
                f"sales_{code}_{month:02d}.csv",
                sales_file(code, month, rows=20 + month, bad=bad),
                on=sales_on,
            )
            assert [j.status for j in ImportJob.objects.filter(pk__in=[j.pk for j in jobs])] == [
                JobStatus.COMPLETE
            ]
            if not (code == "31003" and month == 10):
                send(code, f"stock_{code}_{month:02d}.csv", stock_file(5 + month), on=at(month + 1, 3))
    return made
