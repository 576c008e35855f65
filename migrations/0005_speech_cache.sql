-- Speech cache (issue 14): the cache policy of each workspace, and what a cache hit saved on its usage row.
-- The cached audio itself is not in D1: Workers KV holds it on the edge, a SQLite file of its own locally.
CREATE TABLE workspace_speech_cache (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
    enabled INTEGER NOT NULL DEFAULT 0,
    ttl_seconds INTEGER NOT NULL,
    allow_shared INTEGER NOT NULL DEFAULT 0,
    price_per_million_chars TEXT NOT NULL DEFAULT '0', -- USD per 1M characters served from the cache (decimal)
    updated_at INTEGER NOT NULL
);

-- On a row of vendor 'cache': the vendor cost the hit avoided, at that vendor's dated list price (micro-dollars).
ALTER TABLE usage_records ADD COLUMN saved_cost_micros INTEGER;
