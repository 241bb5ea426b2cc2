"""The store's tables (SQL), their schema version, and the columns read back as records."""

from __future__ import annotations

SCHEMA_VERSION = 4  # 2: the speeds and speed_fits tables; 3: speeds.spread; 4: models.block (added to older stores
# when opened; a store that cannot be written is read as it is: reads take the block from the arch JSON)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sweeps (
    name TEXT PRIMARY KEY,
    space_name TEXT NOT NULL,
    space TEXT,                 -- JSON: the space definition as used (NULL for imported populations)
    regime TEXT NOT NULL,       -- JSON: flops window, resolution, stem, channels, classes, caps
    seed INTEGER,
    source TEXT NOT NULL,       -- 'sampled' or 'imported'
    protocol TEXT,              -- JSON: training protocol, fixed by the first training run
    created TEXT NOT NULL,
    dse_version TEXT NOT NULL
);
CREATE TABLE models (
    sweep TEXT NOT NULL REFERENCES sweeps(name) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    key TEXT NOT NULL,          -- canonical architecture string, unique within a sweep
    arch TEXT NOT NULL,         -- JSON Arch
    stages INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    se INTEGER NOT NULL,
    block TEXT,                 -- the registered block (dse.models.blocks), NULL: res_bottleneck (before schema 4)
    w0 REAL, wa REAL, wm REAL,  -- RegNet parameters when the model came from one
    flops INTEGER NOT NULL,
    params INTEGER NOT NULL,
    acts INTEGER NOT NULL,
    train_flops INTEGER,        -- complexity at the training protocol's resolution, channels, classes
    train_params INTEGER,
    train_acts INTEGER,
    status TEXT NOT NULL DEFAULT 'pending',
    error REAL,                 -- final-epoch top-1 error (%)
    best_error REAL,
    epochs INTEGER,             -- epochs completed (while running: so far)
    train_seconds REAL,
    images_per_s REAL,          -- training throughput of the last epoch
    device TEXT,
    reason TEXT,                -- why a model failed
    worker TEXT,                -- holder of a claim (host:pid)
    lease_until REAL,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    extra TEXT,                 -- JSON: further per-model numbers (e.g. fitted RegNet parameters)
    PRIMARY KEY (sweep, idx),
    UNIQUE (sweep, key)
);
CREATE INDEX models_status ON models(sweep, status);
CREATE TABLE epochs (
    sweep TEXT NOT NULL,
    idx INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_error REAL, test_error REAL, lr REAL, seconds REAL, images_per_s REAL,
    PRIMARY KEY (sweep, idx, epoch),
    FOREIGN KEY (sweep, idx) REFERENCES models(sweep, idx) ON DELETE CASCADE
);
""" + """
CREATE TABLE IF NOT EXISTS speeds (
    sweep TEXT NOT NULL,
    idx INTEGER NOT NULL,
    device TEXT NOT NULL,       -- the GPU's name, or the CPU model and thread count
    mode TEXT NOT NULL,         -- 'infer' or 'train'
    batch INTEGER NOT NULL,
    ms REAL NOT NULL,           -- median of the timed runs, milliseconds per batch
    torch TEXT NOT NULL,
    measured TEXT NOT NULL,
    spread REAL,                -- (75th - 25th percentile) / median of the timed runs (NULL: unknown)
    PRIMARY KEY (sweep, idx, device, mode, batch),
    FOREIGN KEY (sweep, idx) REFERENCES models(sweep, idx) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS speed_fits (
    device TEXT NOT NULL, mode TEXT NOT NULL, batch INTEGER NOT NULL,
    model TEXT NOT NULL,        -- JSON: ms = a*flops + b*acts + c, with r2 and n (the last dse speed run)
    PRIMARY KEY (device, mode, batch)
);
"""
TABLES = ("meta", "sweeps", "models", "epochs", "speeds", "speed_fits")
_SPEED_TABLES = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS speeds"):]

MODEL_COLUMNS = ("idx", "key", "arch", "stages", "depth", "se", "w0", "wa", "wm", "flops", "params", "acts",
                 "train_flops", "train_params", "train_acts", "status", "error", "best_error", "epochs",
                 "train_seconds", "images_per_s", "device", "reason", "attempts", "worker", "extra")
EPOCH_COLUMNS = ("epoch", "train_loss", "train_error", "test_error", "lr", "seconds", "images_per_s")
