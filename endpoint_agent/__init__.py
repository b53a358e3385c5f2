"""Booth side: the local agent that supervises the kiosk and owns the peripherals."""
