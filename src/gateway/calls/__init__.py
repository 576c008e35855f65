"""Voice-agent calls: agents per workspace, calls placed through vendors with failover, webhooks, billing."""
