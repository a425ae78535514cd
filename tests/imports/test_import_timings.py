"""Each import records where its time went: busy seconds per stage and thread beside the run's wall time."""

import pytest

from imports.models import ImportJob, JobStatus
from imports.services import timings
from imports.services.loading import METHOD_LOAD_DATA, load_method_describe
from imports.services.timings import MAIN_STAGES, READER_STAGES, StageTimes, stage_timed

from .conftest import ON_MYSQL, upload

DB = pytest.mark.django_db(transaction=True)


def imported_details(client, sample: str) -> dict:
    response = client.post("/api/import", {"files": [upload(sample)], "mode": "full"}, format="multipart")
    assert response.status_code == 202, response.json()
    batch_id = response.json()["data"]["batch_id"]
    details = client.get(f"/api/jobs/{batch_id}/details").json()["data"]
    return next(d for d in details if d["filename"] == sample)


@DB
@pytest.mark.parametrize(
    "sample, table",
    [
        # sales: append-only (on SQLite through the job's own rows file, then one copy); one row rejected
        pytest.param("sales_summary.csv", "sales", id="append-only-with-a-rejected-row"),
        # products: unique columns, updated in place in one transaction
        pytest.param("products.csv", "products", id="unique-columns"),
    ],
)
def test_a_real_import_records_its_stage_timings(admin_api, demo_tables, sample, table):
    job = imported_details(admin_api, sample)
    assert job["status"] == JobStatus.COMPLETE and job["table_name"] == table
    spent = job["summary"]["timings"]
    assert set(spent) == {"wall", "main", "reader"}
    assert set(spent["main"]) == {*MAIN_STAGES, "other"} and set(spent["reader"]) == set(READER_STAGES)
    stages = [*spent["main"].values(), *spent["reader"].values()]
    assert all(seconds >= 0 for seconds in stages)
    # The main thread's stages cover the wall time (rounded to 4 places each); the reader's fit inside it.
    assert sum(spent["main"].values()) == pytest.approx(spent["wall"], abs=0.001)
    assert sum(spent["reader"].values()) <= spent["wall"] + 0.001
    # Each stage this file went through was measured.
    assert spent["reader"]["read"] > 0 and spent["reader"]["validate"] > 0
    assert spent["main"]["checks"] > 0 and spent["main"]["server_load"] > 0
    if table == "sales" and ON_MYSQL:  # append-only: added up in the reader thread (main waits on the server)
        assert spent["reader"]["summary"] > spent["main"]["summary"]  # the main thread only puts it together
    elif table == "sales":  # SQLite: added up by the main thread after each write (the reader is the busier)
        assert spent["main"]["summary"] > 0 and spent["reader"]["summary"] == 0
    else:  # unique columns: the summary is the query after the rows went in
        assert spent["main"]["summary"] > 0 and spent["reader"]["summary"] == 0
    # Kept beside the data's summary, which stays as it was.
    stored = ImportJob.objects.get(pk=job["id"]).summary
    assert stored["timings"] == spent
    assert ("period_start" in stored) == (table == "sales")


@DB
def test_the_rejected_rows_and_the_load_file_are_stages_of_their_own(admin_api, demo_tables):
    spent = imported_details(admin_api, "sales_summary.csv")["summary"]["timings"]
    assert spent["main"]["rejects"] > 0  # its one bad row went to the errors file
    if load_method_describe() == METHOD_LOAD_DATA:  # LOAD DATA's file, written ahead by the reader thread
        assert spent["reader"]["load_file"] > 0 and spent["main"]["load_file"] == 0
    else:  # the job's rows file (SQLite) or the executemany rows (MySQL INSERT), in the main thread
        assert spent["main"]["load_file"] > 0 and spent["reader"]["load_file"] == 0


class FakeClock:
    """perf_counter that moves only when told: the arithmetic of the stages, exactly."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_stage_inside_another_is_counted_once(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(timings.time, "perf_counter", clock)
    spent = StageTimes()
    with spent.active():
        with stage_timed("server_load", spent):
            clock.now += 1
            with stage_timed("load_file"):  # the active clock, as the writers use it
                clock.now += 2
            clock.now += 3
        with stage_timed("read", spent):  # the reader thread's stage, named explicitly
            clock.now += 5
    clock.now += 0.5
    spent.stop()
    clock.now += 60  # after the stop: not counted
    figures = spent.as_dict()
    assert figures["wall"] == 11.5
    assert figures["main"]["server_load"] == 4 and figures["main"]["load_file"] == 2
    assert figures["reader"]["read"] == 5
    assert figures["main"]["other"] == 5.5  # the wall time no main-thread stage covered (here: the read)


def test_without_an_active_clock_nothing_is_counted():
    with stage_timed("load_file"):
        pass  # a writer used outside an import: no clock, no error
    with pytest.raises(ValueError, match="Unknown import stage"):
        StageTimes().add("lunch", 1.0)
