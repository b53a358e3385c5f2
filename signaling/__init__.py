"""Etäpiste signaling server: protocol, identity, routing, sessions, store and events."""
