-- The append-only event log, its consumers' inbox and checkpoints.
-- SQLite serialises writers (BEGIN IMMEDIATE), so global_position order is commit order.
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version > 0),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    correlation_id  BLOB    NOT NULL,
    causation_id    BLOB,
    actor           TEXT    NOT NULL,
    occurred_at_us  INTEGER NOT NULL,
    recorded_at_us  INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: UPDATE refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: DELETE refused');
END;

CREATE TABLE inbox (
    consumer        TEXT    NOT NULL,
    event_id        BLOB    NOT NULL,
    processed_at_us INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE checkpoints (
    name            TEXT    PRIMARY KEY,
    commit_id       INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    updated_at_us   INTEGER NOT NULL
);
