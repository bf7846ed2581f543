-- Each read-model row carries the version of what it was computed from (the folded stream's):
-- an upsert never replaces a row of a greater version, so a late writer of an older fold (a
-- second replica, a rebuild catching up) cannot undo a newer one.
ALTER TABLE projection_rows ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
