-- A command's dedupe row keeps what the request asked, so a request id reused for another
-- request is refused instead of answered with the first one's result.
ALTER TABLE inbox ADD COLUMN fingerprint BLOB;

-- REPLACE (and INSERT OR REPLACE) removes a conflicting row without firing the DELETE trigger:
-- refuse any insert that would collide with a stored event, before conflict resolution runs.
CREATE TRIGGER events_refuse_replace BEFORE INSERT ON events
WHEN EXISTS (
    SELECT 1 FROM events
    WHERE event_id = NEW.event_id
       OR (stream_id = NEW.stream_id AND stream_version = NEW.stream_version)
       OR global_position = NEW.global_position
)
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: an insert may not replace a stored event');
END;
