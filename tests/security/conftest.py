"""The demo tables fixture of the import tests, shared here."""

from tests.imports.conftest import demo_tables

__all__ = ["demo_tables"]
