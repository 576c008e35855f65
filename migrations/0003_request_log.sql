-- The request log: one row per API request and per realtime session, for the console's Logs and Overview.
-- Never the request text or audio. Pruned after REQUEST_LOG_RETENTION_DAYS (default 30).
CREATE TABLE request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    workspace_id TEXT,
    api_key_id TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    status INTEGER NOT NULL,
    vendor TEXT,
    capability TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL,
    ttfb_ms INTEGER,
    characters INTEGER,
    audio_seconds REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    error_class TEXT
);
CREATE INDEX idx_request_log_created ON request_log (created_at);
CREATE INDEX idx_request_log_workspace ON request_log (workspace_id, id);
