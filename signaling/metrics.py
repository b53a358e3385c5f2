"""Prometheus metrics of one node, in a registry of its own."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .protocol import CLIENT_TYPES
from .store import Store

log = logging.getLogger(__name__)


class Metrics:
    """The counters, gauges and histograms a node exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge(
            "etapiste_connections", "Open signaling connections", ["kind"], registry=r
        )
        self.messages_in = Counter(
            "etapiste_messages_in", "Messages received, by type", ["type"], registry=r
        )
        self.messages_out = Counter(
            "etapiste_messages_out", "Messages sent, by type", ["type"], registry=r
        )
        self.errors = Counter("etapiste_errors", "Errors sent, by code", ["code"], registry=r)
        self.slow_consumers = Counter(
            "etapiste_slow_consumers", "Connections closed for a full send queue", registry=r
        )
        self.send_queue = Gauge(
            "etapiste_send_queue_messages", "Messages waiting in send queues", registry=r
        )
        self.queue_length = Gauge(
            "etapiste_queue_length", "Calls waiting, by queue", ["queue"], registry=r
        )
        self.sessions = Gauge("etapiste_sessions", "Sessions, by state", ["state"], registry=r)
        self.events_waiting = Gauge(
            "etapiste_events_waiting",
            "Events the store refused, kept in the node's outbox until it takes them",
            registry=r,
        )
        self.routing_latency = Histogram(
            "etapiste_routing_latency_seconds",
            "Time from a routing trigger (call request, expert available) to the offer sent",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )

        # Labelled children looked up once: .labels() is costly on the relay hot path.
        self._in = {kind: self.messages_in.labels(kind) for kind in (*CLIENT_TYPES, "invalid")}
        self._out: dict[str, Any] = {}

    def count_in(self, kind: object) -> None:
        """Count a received message; unknown types share one label."""
        label = kind if isinstance(kind, str) and kind in CLIENT_TYPES else "invalid"
        self._in[label].inc()

    def count_out(self, kind: str) -> None:
        """Count a sent message."""
        child = self._out.get(kind)
        if child is None:
            child = self._out[kind] = self.messages_out.labels(kind)
        child.inc()

    async def refresh(self, store: Store, send_queue: int, events_waiting: int = 0) -> None:
        """Read the gauges that live in the store (called on scrape)."""
        self.send_queue.set(send_queue)
        self.events_waiting.set(events_waiting)
        try:
            lengths = await store.queue_lengths()
            states = await store.count_sessions_by_state()
        except Exception as exc:  # the store is away: the node's own gauges still show
            log.warning("metrics without the store's gauges: %s", exc)
            return
        self.queue_length.clear()
        for queue, length in lengths.items():
            self.queue_length.labels(queue).set(length)
        self.sessions.clear()
        for state, count in states.items():
            self.sessions.labels(state).set(count)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format."""
        return generate_latest(self.registry)
