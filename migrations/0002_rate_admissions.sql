-- Requests admitted against the rate limits on the local runtime, so that restarting the server does not hand a
-- workspace its whole minute and hour again. Rows older than an hour are pruned. (On Workers the per-workspace
-- WorkspaceLimiter Durable Object keeps its windows in its own storage; this table stays empty there.)
CREATE TABLE rate_admissions (
    request_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    key_id TEXT,
    admitted_at INTEGER NOT NULL
);
CREATE INDEX idx_rate_admissions_workspace_at ON rate_admissions (workspace_id, admitted_at);
