-- Read models declare their own filters: the log keeps up to four, by position, and knows none
-- of their meanings (the service that owns a read model names them).
ALTER TABLE projection_rows RENAME COLUMN place TO filter_1;
ALTER TABLE projection_rows RENAME COLUMN day TO filter_2;
ALTER TABLE projection_rows RENAME COLUMN state TO filter_3;
ALTER TABLE projection_rows ADD COLUMN filter_4 TEXT NOT NULL DEFAULT '';
