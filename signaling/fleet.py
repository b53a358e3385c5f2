"""The booth fleet: each site's latest health report and whether it is online."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .directory import Directory
from .protocol import BoothHealth
from .store import Store

OFFLINE_AFTER_S = 30.0

BoothStatus = Literal["online", "device_problem", "offline", "never_seen"]


class BoothState(BaseModel):
    """What an operator needs to know about one booth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    kind: Literal["S", "XS"]
    status: BoothStatus
    last_report_at: float | None
    report: dict[str, Any] | None


async def record_health(store: Store, site: str, report: BoothHealth, now: float) -> None:
    """Keep a booth's health report as the site's latest."""
    data = report.model_dump(mode="json", exclude={"id", "type"})
    data["received_at"] = now
    await store.save_booth_health(site, data)


def _status(report: dict[str, Any] | None, now: float) -> BoothStatus:
    if report is None:
        return "never_seen"
    if now - float(report["received_at"]) > OFFLINE_AFTER_S:
        return "offline"
    if any(state != "ok" for state in report["devices"].values()) or report["kiosk"] != "running":
        return "device_problem"
    return "online"


async def fleet(store: Store, directory: Directory, now: float) -> list[BoothState]:
    """Return every configured site's state, offline when it stopped reporting."""
    reports = await store.booth_health()
    return [
        BoothState(
            site=site.id,
            kind=site.kind,
            status=_status(reports.get(site.id), now),
            last_report_at=reports[site.id]["received_at"] if site.id in reports else None,
            report=reports.get(site.id),
        )
        for site in directory.sites
    ]
