"""The sweep store (SQLite; the only place with SQL), its typed records, and tables for export/import."""

from dse.store.db import EPOCH_COLUMNS, SCHEMA_VERSION, STATUSES, Store, StoreDamaged, default_db_path, worker_id
from dse.store.records import EpochRecord, EpochRow, Fit, ModelRecord, SweepRecord
from dse.store.table import export_rows, import_rows, read_table, write_table

__all__ = ["EPOCH_COLUMNS", "SCHEMA_VERSION", "STATUSES", "EpochRecord", "EpochRow", "Fit", "ModelRecord", "Store",
           "StoreDamaged", "SweepRecord",
           "default_db_path", "export_rows", "import_rows", "read_table", "worker_id", "write_table"]
