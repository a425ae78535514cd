"""Load the demo tables (sales, stocks, products): create what is missing, never remove or change anything."""

from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError

from importhub.errors import ImportHubError
from tableconfig.models import ImportTable
from tableconfig.naming import normalize_name
from tableconfig.services import alias_create, column_create, import_table_create, table_schema_sync_config

DATE_FORMATS = "%Y-%m-%d|%d/%m/%Y"
DATETIME_FORMATS = "%Y-%m-%d %H:%M:%S|%Y-%m-%d %H:%M|%d/%m/%Y %H:%M:%S|%d/%m/%Y %H:%M"

# In the shape `import_table_create` takes.
DEMO_TABLES: list[dict] = [
    {
        "table_name": "sales",
        "display_name": "Sales Lines",
        "allowed_filename": "sales, sales_*",
        "expected_in_batch": True,
        "columns": [
            {
                "column_name": "distid",
                "data_type": "str",
                "is_mandatory": True,
                "role": "distributor",
                "aliases": ["dist_id", "distributor"],
            },
            {"column_name": "dono", "data_type": "str", "is_mandatory": True, "aliases": ["do_no", "no_do"]},
            {
                "column_name": "dotanggal",
                "data_type": "date",
                "is_mandatory": True,
                "role": "period",
                "date_format": DATE_FORMATS,
                "aliases": ["do_date", "tanggal"],
            },
            {
                "column_name": "custid",
                "data_type": "str",
                "is_mandatory": True,
                "aliases": ["customer_id", "cust_id"],
            },
            {
                "column_name": "sku",
                "data_type": "str",
                "is_mandatory": True,
                "aliases": ["item_code", "kode_barang"],
            },
            {"column_name": "qty", "data_type": "int", "is_mandatory": True, "aliases": ["quantity"]},
            {
                "column_name": "amount_jual",
                "data_type": "decimal",
                "is_mandatory": True,
                "role": "amount",
                "aliases": ["amount", "sales_amount"],
            },
            {
                "column_name": "exportdate",
                "data_type": "datetime",
                "role": "export_date",
                "date_format": DATETIME_FORMATS,
                "aliases": ["export_date"],
            },
        ],
    },
    {
        "table_name": "stocks",
        "display_name": "Stock Levels",
        "allowed_filename": "stock, stocks, stock_*",
        "expected_in_batch": True,
        "columns": [
            {"column_name": "sku", "data_type": "str", "is_mandatory": True, "aliases": ["item_code"]},
            {
                "column_name": "warehouse_code",
                "data_type": "str",
                "is_mandatory": True,
                "aliases": ["gudang", "wh"],
            },
            {"column_name": "stock_pcs", "data_type": "int", "is_mandatory": True, "aliases": ["qty_pcs"]},
            {"column_name": "stock_box", "data_type": "int"},
            {"column_name": "stock_cs", "data_type": "int"},
            {"column_name": "date", "data_type": "date", "date_format": DATE_FORMATS},
        ],
    },
    {
        "table_name": "products",
        "display_name": "Product List",
        "allowed_filename": "product_list, products",
        "expected_in_batch": True,
        "columns": [
            {"column_name": "sku", "data_type": "str", "is_mandatory": True, "is_unique": True},
            {"column_name": "product_name", "data_type": "str", "is_mandatory": True},
            {"column_name": "price", "data_type": "decimal"},
        ],
    },
]


def demo_table_load(definition: dict) -> Iterator[str]:
    """Create the table, or add the columns and aliases it lacks; then sync it. Yields what was done."""
    table = ImportTable.objects.filter(table_name=definition["table_name"]).first()
    if table is None:
        table = import_table_create(**definition)
        yield f"created the configuration ({len(definition['columns'])} columns) and the physical table"
    else:
        existing = {c.column_name: c for c in table.columns.prefetch_related("aliases")}
        changed = False
        for data in definition["columns"]:
            data = dict(data)
            aliases = data.pop("aliases", [])
            column = existing.get(data["column_name"])
            if column is None:
                column = column_create(table=table, **data)
                changed = True
                yield f"added column {column.column_name}"
                have = set()
            else:
                have = {a.normalized for a in column.aliases.all()}
            for alias in aliases:
                if normalize_name(alias) not in have:
                    alias_create(column=column, alias_name=alias)
                    changed = True
                    yield f"added alias {alias} to {column.column_name}"
        if not changed:
            yield "configuration already in place"
    done = table_schema_sync_config(table=table)
    yield f"physical table: {'; '.join(done)}" if done else "physical table in line"


class Command(BaseCommand):
    help = "Create or complete the demo table configuration (sales, stocks, products) and sync the tables."

    def handle(self, *args, **options):
        refused = []
        for definition in DEMO_TABLES:
            name = definition["table_name"]
            try:
                for line in demo_table_load(definition):
                    self.stdout.write(f"{name}: {line}")
            except ImportHubError as exc:
                refused.append(name)
                self.stdout.write(self.style.ERROR(f"{name}: REFUSED: {exc.message}"))
        if refused:
            raise CommandError(f"Could not load the demo configuration of: {', '.join(refused)}.")
