-- Read models (projections): rows derived from the log, dropped and rebuilt at will. They are not
-- the truth, so unlike `events` they may be updated and deleted.
CREATE TABLE projection_rows (
    projection    TEXT   NOT NULL,
    key           TEXT   NOT NULL,
    partition_key TEXT   NOT NULL,
    place         TEXT   NOT NULL,
    day           TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    sort          BIGINT NOT NULL,
    value         BYTEA  NOT NULL,
    PRIMARY KEY (projection, key)
);
CREATE INDEX projection_rows_by_partition ON projection_rows (projection, partition_key, sort DESC);
