"""Etäpiste tests."""
