"""`bench_workers`' report on scaling: the speed-up of N workers over 1, the cores and the server's auto-increment
lock mode, and the lines that say which of them held the workers back."""

from __future__ import annotations

import pytest

from benchmarks.management.commands.bench_workers import (
    MachineFigures,
    Report,
    ThroughputFigures,
    throughput_compare,
)

SHARED = "the workers and the database share the cores"
LIFTED = "innodb_autoinc_lock_mode=2 in the server's my.cnf [mysqld] lifts it"


def batch(*rates: tuple[int, float]) -> list[ThroughputFigures]:
    return throughput_compare(
        [
            ThroughputFigures(workers=w, files=20, rows=1_000_000, seconds=1_000_000 / r, rows_per_second=r)
            for w, r in rates
        ]
    )


def mariadb(*, cores: int = 2, local: bool = True, mode: int | None = 1, binlog: str | None = None):
    return MachineFigures(
        cpu_count=cores,
        cpu_affinity=cores,
        server="MariaDB 10.11.19",
        database_local=local,
        autoinc_lock_mode=mode,
        buffer_pool_bytes=128 * 1024**2,
        binlog_format=binlog,
        load_before=[1.41, 1.34, 0.82],
        load_after=[2.0, 1.5, 1.0],
    )


def report_text(machine: MachineFigures, throughput: list[ThroughputFigures]) -> str:
    report = Report(database="mysql x", broker="orm", web_workers=2, throughput=throughput, machine=machine)
    return "\n".join(report.lines())


def test_report_states_the_speed_up_cores_and_server():
    text = report_text(mariadb(), batch((1, 55_000), (2, 43_450)))
    assert "  2 workers: 0.79x of 1 worker\n" in text
    assert (
        "  cores: 2 (os.cpu_count), 2 usable (sched_getaffinity); load average 1.41/1.34/0.82 before" in text
    )
    assert (
        "  database: MariaDB 10.11.19 on this machine; innodb_autoinc_lock_mode=1, "
        "innodb_buffer_pool_size=128 MiB, binary log off"
    ) in text


def test_report_compares_to_one_worker_whatever_the_order():
    text = report_text(mariadb(), batch((2, 66_000), (1, 55_000), (4, 44_000)))
    assert "  2 workers: 1.20x of 1 worker\n" in text
    assert "  4 workers: 0.80x of 1 worker\n" in text


@pytest.mark.parametrize(
    "machine, rates, shared, lifted",
    [
        (mariadb(), [(1, 55_000), (2, 43_450)], True, True),
        (mariadb(cores=3), [(1, 55_000), (2, 43_450)], True, True),
        (mariadb(cores=8), [(1, 55_000), (2, 43_450)], False, True),
        (mariadb(local=False), [(1, 55_000), (2, 43_450)], False, True),
        (mariadb(), [(1, 55_000), (2, 90_000)], False, True),
        (mariadb(mode=0), [(1, 55_000), (2, 43_450)], True, True),
        (mariadb(mode=2), [(1, 55_000), (2, 43_450)], True, False),
        (mariadb(mode=None), [(1, 55_000), (2, 43_450)], True, False),
    ],
    ids=[
        "slower-on-2-cores",
        "slower-on-3-cores",
        "slower-on-8-cores",
        "database-elsewhere",
        "faster",
        "autoinc-mode-0",
        "autoinc-mode-2",
        "autoinc-mode-unread",
    ],
)
def test_report_says_what_limits_scaling(machine, rates, shared, lifted):
    text = report_text(machine, batch(*rates))
    assert (SHARED in text) == shared
    assert (LIFTED in text) == lifted
    if lifted:
        assert (
            f"innodb_autoinc_lock_mode={machine.autoinc_lock_mode}: concurrent LOAD DATA into one table wait"
            in text
        )
    if machine.autoinc_lock_mode == 2:
        assert "innodb_autoinc_lock_mode=2: concurrent LOAD DATA into one table do not wait" in text


def test_report_warns_of_statement_binary_logging():
    text = report_text(mariadb(binlog="STATEMENT"), batch((1, 55_000), (2, 43_450)))
    assert "binlog_format=STATEMENT" in text
    assert "this server logs STATEMENT: change binlog_format first" in text
    assert "change binlog_format first" not in report_text(mariadb(binlog="MIXED"), batch((1, 5), (2, 4)))


def test_report_on_sqlite_says_the_autoinc_mode_does_not_apply():
    sqlite = MachineFigures(cpu_count=2, cpu_affinity=2, server="SQLite 3.40.1", database_local=True)
    text = report_text(sqlite, batch((1, 56_000), (2, 45_000)))
    assert "  database: SQLite 3.40.1 on this machine; innodb_autoinc_lock_mode: does not apply" in text
    assert LIFTED not in text
    assert SHARED in text
