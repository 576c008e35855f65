-- Voice-agent calls (Vapi, Retell): logical agents per workspace, the calls placed through them, and call usage.

-- A workspace's logical agent (e.g. "support") and what it is at each vendor: {"vapi": {"assistantId",
-- "phoneNumberId"}, "retell": {"agentId", "fromNumber"}}. Vendor credentials come from the provider configs.
CREATE TABLE agents (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    vendors_json TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

-- One row per call placed through the gateway. A row is reserved (status 'creating') before the vendor is asked,
-- so the concurrent-call limit is one atomic INSERT; billed_at is set by the one end event that bills it.
CREATE TABLE agent_calls (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    api_key_id TEXT,
    request_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('web', 'phone')),
    provider TEXT,
    vendor_call_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('creating', 'queued', 'ringing', 'in_progress', 'ended', 'failed')),
    to_number TEXT,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    started_at INTEGER,
    ended_at INTEGER,
    duration_seconds REAL,
    ended_reason TEXT,
    transcript_url TEXT,
    recording_url TEXT,
    provider_cost_micros INTEGER,
    billed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_agent_calls_vendor ON agent_calls (provider, vendor_call_id);
CREATE INDEX idx_agent_calls_workspace_created ON agent_calls (workspace_id, created_at);
CREATE INDEX idx_agent_calls_open ON agent_calls (status, billed_at, updated_at);

-- usage_records gains the resource 'call' (units: minutes). SQLite cannot alter a CHECK constraint, so the table
-- is rebuilt the documented way (new table, copy, drop, rename) with the same columns plus `minutes`.
CREATE TABLE usage_records_new (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    api_key_id TEXT,
    provider TEXT NOT NULL,
    resource TEXT NOT NULL CHECK (resource IN ('tts', 'stt', 'llm', 'call')),
    model TEXT,
    segment INTEGER NOT NULL DEFAULT 0,
    characters INTEGER,
    audio_seconds REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    unit_prices TEXT NOT NULL DEFAULT '{}',
    provider_cost_micros INTEGER NOT NULL,
    markup_percentage REAL NOT NULL,
    final_cost_micros INTEGER NOT NULL,
    billing_period TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    minutes REAL,
    UNIQUE (request_id, segment)
);
INSERT INTO usage_records_new (id, request_id, workspace_id, api_key_id, provider, resource, model, segment,
    characters, audio_seconds, input_tokens, output_tokens, unit_prices, provider_cost_micros, markup_percentage,
    final_cost_micros, billing_period, created_at)
SELECT id, request_id, workspace_id, api_key_id, provider, resource, model, segment, characters, audio_seconds,
    input_tokens, output_tokens, unit_prices, provider_cost_micros, markup_percentage, final_cost_micros,
    billing_period, created_at
FROM usage_records;
DROP TABLE usage_records;
ALTER TABLE usage_records_new RENAME TO usage_records;
CREATE INDEX idx_usage_workspace_period ON usage_records (workspace_id, billing_period);
CREATE INDEX idx_usage_workspace_created ON usage_records (workspace_id, created_at);
