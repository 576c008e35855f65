-- Voice AI Gateway schema (D1 = SQLite). Times are epoch milliseconds; money is integer micro-dollars (*_micros).

-- Tenants: each workspace has its own keys, vendor configuration, markup, limits and bill.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    markup_percentage REAL,
    limits_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Workspace API keys: only the SHA-256 is stored; the prefix is the lookup index.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX idx_api_keys_prefix ON api_keys (prefix);
CREATE INDEX idx_api_keys_workspace ON api_keys (workspace_id);

-- Per-workspace vendor settings: enable/disable, own key (AES-256-GCM sealed), vendor options.
CREATE TABLE workspace_provider_configs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    provider TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    encrypted_api_key TEXT,
    use_platform_key INTEGER NOT NULL DEFAULT 1,
    config_json TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);

-- Platform-wide vendor settings (the platform's own keys live sealed in KV).
CREATE TABLE platform_provider_configs (
    provider TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL DEFAULT 1,
    priority INTEGER NOT NULL DEFAULT 100,
    encrypted_api_key TEXT,
    config_json TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
);

-- How each workspace orders its vendors.
CREATE TABLE workspace_provider_strategies (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
    strategy TEXT NOT NULL CHECK (strategy IN ('cost', 'latency', 'priority', 'weighted', 'round_robin')),
    config_json TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
);

-- Platform settings (markup default, built-in fallback switch).
CREATE TABLE platform_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO platform_settings (key, value, updated_at) VALUES
    ('pricing_markup_percentage', '20', 0),
    ('builtin_fallback_enabled', 'true', 0);

-- Calendar-month billing periods; the partial unique index allows one current period per workspace.
CREATE TABLE billing_periods (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    period TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current', 'closed')),
    created_at INTEGER NOT NULL,
    UNIQUE (workspace_id, period)
);
CREATE UNIQUE INDEX idx_billing_periods_one_current ON billing_periods (workspace_id) WHERE status = 'current';

-- One row per billed request (or per vendor segment of a stream): units as the vendor reported them, and money.
CREATE TABLE usage_records (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    api_key_id TEXT,
    provider TEXT NOT NULL,
    resource TEXT NOT NULL CHECK (resource IN ('tts', 'stt', 'llm')),
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
    UNIQUE (request_id, segment)
);
CREATE INDEX idx_usage_workspace_period ON usage_records (workspace_id, billing_period);
CREATE INDEX idx_usage_workspace_created ON usage_records (workspace_id, created_at);

-- Every switch from one vendor to the next within a request.
CREATE TABLE failover_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    workspace_id TEXT,
    from_provider TEXT NOT NULL,
    to_provider TEXT,
    error_class TEXT NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    result TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_failover_workspace_created ON failover_logs (workspace_id, created_at);

-- Vendor health history written by the health Durable Object.
CREATE TABLE provider_health_status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    status TEXT NOT NULL,
    error_rate REAL NOT NULL,
    latency_ms REAL,
    circuit TEXT NOT NULL,
    error TEXT,
    checked_at INTEGER NOT NULL
);
CREATE INDEX idx_provider_health_provider_checked ON provider_health_status (provider, checked_at);
