"""The history database's tables (``runs``, ``nodes``, ``builds``, ``gate_checks``) and the
upgrades from earlier schema versions; :mod:`orchestrator.records.history` reads and writes them."""

from __future__ import annotations

SCHEMA_VERSION = 4
FILENAME = "history.sqlite3"

# From schema N to the current one: the statements run before SCHEMA.
UPGRADES = {
    # 2: why a run failed before any node ran (a source that could not be fetched).
    1: "ALTER TABLE runs ADD COLUMN error TEXT NOT NULL DEFAULT '';"
    " ALTER TABLE nodes ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';",
    # 3: each node's steps and their times.
    2: "ALTER TABLE nodes ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';",
    # 4: the gate's checks of each run (a new table: SCHEMA creates it).
    3: "",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id           TEXT PRIMARY KEY,
    pipeline     TEXT NOT NULL,
    command      TEXT NOT NULL,
    options      TEXT NOT NULL,
    withheld     TEXT NOT NULL DEFAULT '[]',
    nodes        TEXT NOT NULL,
    edges        TEXT NOT NULL DEFAULT '[]',
    resumed_from TEXT,
    started      REAL NOT NULL,
    finished     REAL,
    result       TEXT NOT NULL,
    exit_code    INTEGER,
    pid          INTEGER NOT NULL,
    log_dir      TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started);
CREATE TABLE IF NOT EXISTS nodes (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node      TEXT NOT NULL,
    status    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    key       TEXT NOT NULL,
    image     TEXT NOT NULL,
    image_id  TEXT NOT NULL,
    size      INTEGER NOT NULL,
    started   REAL,
    finished  REAL,
    duration  REAL NOT NULL,
    attempts  INTEGER NOT NULL,
    log_path  TEXT NOT NULL,
    error     TEXT NOT NULL,
    steps     TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, node)
);
CREATE TABLE IF NOT EXISTS builds (
    key        TEXT NOT NULL,
    repository TEXT NOT NULL,
    node       TEXT NOT NULL,
    image      TEXT NOT NULL,
    image_id   TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    built      REAL NOT NULL,
    PRIMARY KEY (repository, key)
);
CREATE INDEX IF NOT EXISTS builds_by_repository ON builds (repository, built);
CREATE TABLE IF NOT EXISTS gate_checks (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    state     TEXT NOT NULL,
    exit_code INTEGER,
    seconds   REAL NOT NULL,
    log       TEXT NOT NULL,
    logs_dir  TEXT NOT NULL,
    why       TEXT NOT NULL,
    services  TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""
