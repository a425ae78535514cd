"""IMPORT_MEMORY_RETURN: the importing process hands freed memory back (the peak is measured by bench_import,
see the README's Speed section); these tests check that the switch does what it says in this process."""

import pyarrow as pa
import pytest

from imports.memory import process_memory_tune


@pytest.fixture
def mimalloc_pool():
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    yield
    pa.set_memory_pool(pool)


def test_memory_tune_puts_arrow_on_the_system_allocator_and_sets_glibc(mimalloc_pool):
    assert pa.default_memory_pool().backend_name == "mimalloc"
    applied = process_memory_tune(enabled=True)
    assert applied == {"arrow_system_pool": True, "glibc_mallopt": True}  # Debian/Ubuntu: glibc
    assert pa.default_memory_pool().backend_name == "system"


def test_memory_tune_off_leaves_the_allocators_alone(mimalloc_pool):
    assert process_memory_tune(enabled=False) == {"arrow_system_pool": False, "glibc_mallopt": False}
    assert pa.default_memory_pool().backend_name == "mimalloc"


def test_memory_return_is_on_by_default_in_every_process_django_starts():
    # ImportsConfig.ready() applied it when the test run set Django up (the workers fork from such a process).
    assert pa.default_memory_pool().backend_name == "system"
