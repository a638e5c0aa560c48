"""Runs queued across processes: their shared record, events and result on Redis."""
