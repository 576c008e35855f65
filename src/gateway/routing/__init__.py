"""Choosing vendors and running attempts: who may serve this request (``directory``), in which order
(``strategies``), and trying them until one succeeds (``failover``). Nothing here knows a vendor's wire format."""
