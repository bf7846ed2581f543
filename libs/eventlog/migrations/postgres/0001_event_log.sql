-- The append-only event log, its consumers' inbox and checkpoints.
CREATE TABLE events (
    global_position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Commit order: readers follow (transaction_id, global_position) and never read past
    -- pg_snapshot_xmin(pg_current_snapshot()), so a late-committing transaction is never skipped.
    transaction_id  XID8   NOT NULL DEFAULT pg_current_xact_id(),
    event_id        UUID   NOT NULL,
    stream_id       TEXT   NOT NULL,
    stream_version  BIGINT NOT NULL CHECK (stream_version > 0),
    event_type      TEXT   NOT NULL,
    schema_version  INT    NOT NULL,
    payload         BYTEA  NOT NULL,
    correlation_id  UUID   NOT NULL,
    causation_id    UUID,
    actor           TEXT   NOT NULL,
    occurred_at_us  BIGINT NOT NULL,
    recorded_at_us  BIGINT NOT NULL,
    CONSTRAINT events_event_id_unique UNIQUE (event_id),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_commit_order ON events (transaction_id, global_position);

CREATE FUNCTION yeyak_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION yeyak_events_are_append_only();

CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION yeyak_events_are_append_only();

-- One row per (consumer, event) handled; written in the same transaction as the effect.
CREATE TABLE inbox (
    consumer        TEXT   NOT NULL,
    event_id        UUID   NOT NULL,
    processed_at_us BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Durable read positions of subscriptions (consumers, relays, projections).
CREATE TABLE checkpoints (
    name            TEXT   PRIMARY KEY,
    commit_id       BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    updated_at_us   BIGINT NOT NULL
);
