"""HTTP routers. Each parses and validates, names the operation, and delegates; none knows a vendor."""
