-- The W3C traceparent of the request that caused an event, so its trace continues in consumers.
ALTER TABLE events ADD COLUMN trace_context TEXT;
