"""What a booth can call: agencies and services, open or closed, and the wait in each queue."""

from __future__ import annotations

from datetime import UTC, datetime

from .directory import Directory
from .protocol import CatalogAgency, CatalogQueue, CatalogService
from .records import queue_key
from .routing import Router


async def build_catalog(directory: Directory, router: Router, now: float) -> list[CatalogAgency]:
    """Return every agency with its services, opening state and per-language waits."""
    lengths = await router.store.queue_lengths()
    at = datetime.fromtimestamp(now, UTC)
    agencies = []
    for agency in directory.agencies:
        is_open = agency.hours.is_open(at)
        opening = None if is_open else agency.hours.next_opening(at)
        # One count per agency, not one per queue: every queue of it shares its experts.
        available = len(await router.store.available_experts(agency.id)) if is_open else 0
        services = []
        for service in agency.services:
            queues = []
            for language in agency.service_languages(service.id):
                queue = queue_key(agency.id, service.id, language)
                waiting = lengths.get(queue, 0)
                # A new caller would stand behind everyone already waiting.
                wait = (
                    await router.estimate_wait(queue, agency.id, waiting, available)
                    if is_open
                    else None
                )
                queues.append(
                    CatalogQueue(
                        language=language,
                        waiting=waiting,
                        estimated_wait_s=None if wait is None else round(wait),
                    )
                )
            services.append(
                CatalogService(
                    id=service.id,
                    name=service.name.model_dump(),
                    languages=agency.service_languages(service.id),
                    queues=queues,
                )
            )
        agencies.append(
            CatalogAgency(
                id=agency.id,
                kind=agency.kind,
                name=agency.name.model_dump(),
                open=is_open,
                next_opening=opening.isoformat() if opening else None,
                services=services,
            )
        )
    return agencies
