"""Repositories over the D1-shaped ``Database`` port: the only place SQL lives."""
