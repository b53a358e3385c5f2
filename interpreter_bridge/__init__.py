"""Interpreters: registry, bookings, on-demand dispatch and joining calls."""
