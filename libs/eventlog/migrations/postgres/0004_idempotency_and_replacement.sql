-- A command's dedupe row keeps what the request asked, so a request id reused for another
-- request is refused instead of answered with the first one's result.
ALTER TABLE inbox ADD COLUMN fingerprint BYTEA;
-- PostgreSQL has no REPLACE; INSERT … ON CONFLICT DO UPDATE fires the row UPDATE trigger above.
