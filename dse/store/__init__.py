"""The sweep store (SQLite) and its tables for export/import."""

from dse.store.db import SCHEMA_VERSION, STATUSES, Store, default_db_path, worker_id
from dse.store.table import export_rows, import_rows, read_table, write_table

__all__ = ["SCHEMA_VERSION", "STATUSES", "Store", "default_db_path", "worker_id", "export_rows", "import_rows",
           "read_table", "write_table"]
