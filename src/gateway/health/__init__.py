"""Vendor health: the global aggregate (``monitor``, hosted by a Durable Object or in-process) and the isolate-side
client that caches its snapshot and reports observations in batches (``client``)."""
