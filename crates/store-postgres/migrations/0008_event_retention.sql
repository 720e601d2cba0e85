-- Events older than the retention are deleted in batches, oldest first: the index finds them
-- without scanning the newer ones.
CREATE INDEX events_by_at ON events (at, sequence);
