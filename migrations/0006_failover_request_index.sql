-- A request's failovers are looked up by its id (the request log's detail view): without this index that read
-- scanned the newest failovers of the workspace and could miss older ones.
CREATE INDEX idx_failover_request ON failover_logs (request_id);
