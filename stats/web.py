"""Statistics in a node: the consumer beside it, and the reports' REST API for supervisors.

GET /console/api/stats/report?from=&to=&by=&period=&<dimension>=v1,v2&format=json|csv
answers as `etapiste stats report` does (docs/statistics.md). A supervisor sees only the
agencies of their role (a filter on others is refused); an admin sees everything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from signaling.directory import Directory
from signaling.http import NODE, json_error
from signaling.identity import Principal
from signaling.protocol import ErrorCode
from signaling.staff_web import staff_request
from signaling.store import Store

from .consumer import Consumer
from .db import Database, open_database
from .output import as_csv, as_json, parse_day
from .report import DEFAULT_SUPPRESS_BELOW, PERIODS, ReportError, ReportQuery, report
from .schema import DIMENSIONS, migrate

DATABASE = web.AppKey("stats_database", Database)
REPORT_PARAMS = {"from", "to", "by", "period", "format", *DIMENSIONS}


def scope(directory: Directory, principal: Principal) -> tuple[str, ...] | None:
    """The agencies a staff member may see statistics of (None: all), or () for none."""
    if principal.has_role("admin"):
        return None
    account = directory.account(principal.username or "")
    if account is None or account.supervisor is None:
        return ()
    return tuple(account.supervisor.agencies)


def query_from_params(
    params: dict[str, str], allowed: tuple[str, ...] | None, suppress_below: int
) -> ReportQuery:
    """The report a request's query string asks for, within the agencies allowed."""
    for name in params:
        if name not in REPORT_PARAMS:
            raise ReportError(name, f"unknown parameter {name!r}")
    for name in ("from", "to"):
        if not params.get(name):
            raise ReportError(name, f"{name} is required (YYYY-MM-DD)")
    try:
        start, end = parse_day(params["from"], "from"), parse_day(params["to"], "to")
    except ValueError as exc:
        raise ReportError(str(exc).split(":", 1)[0], str(exc)) from None
    period = params.get("period") or None
    if period is not None and period not in PERIODS:
        raise ReportError("period", f"the period is one of {', '.join(PERIODS)}")
    filters = {
        name: tuple(v for v in params[name].split(",") if v)
        for name in DIMENSIONS
        if params.get(name)
    }
    if allowed is not None:
        asked = filters.get("agency", allowed)
        outside = sorted(set(asked) - set(allowed))
        if outside:
            raise PermissionError(f"not your agencies: {', '.join(outside)}")
        filters["agency"] = tuple(asked)
    by = tuple(name for name in params.get("by", "").split(",") if name)
    return ReportQuery(start, end, by, period, filters, suppress_below)


async def stats_report(request: web.Request) -> web.Response:
    """A report, as JSON or CSV, for a supervisor (their agencies) or an admin."""
    principal = staff_request(request, write=False)
    if isinstance(principal, web.Response):
        return principal
    node = request.app[NODE]
    allowed = scope(node.directory, principal)
    if allowed == ():
        return json_error(403, ErrorCode.FORBIDDEN, "statistics are for supervisors", "role")
    params = dict(request.query)
    output = params.get("format", "json")
    if output not in ("json", "csv"):
        return json_error(400, ErrorCode.INVALID_FIELD, "format is json or csv", "format")
    try:
        query = query_from_params(params, allowed, DEFAULT_SUPPRESS_BELOW)
    except ReportError as exc:
        return json_error(400, ErrorCode.INVALID_FIELD, str(exc), exc.field)
    except PermissionError as exc:
        return json_error(403, ErrorCode.FORBIDDEN, str(exc), "agency")
    rows = await report(request.app[DATABASE], query)
    if output == "csv":
        name = f"etapiste-{query.start.isoformat()}-{query.end.isoformat()}.csv"
        return web.Response(
            text=as_csv(query, rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return web.json_response(as_json(query, rows))


def add_statistics(app: web.Application, url: str, store: Store) -> None:
    """Run the consumer beside the node and serve the reports (serve --stats-db)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        database = await open_database(url)
        await migrate(database)
        app[DATABASE] = database
        consumer = asyncio.create_task(Consumer(store, database).run(), name="stats-consumer")
        yield
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await database.close()

    # After the node's own: the consumer stops before the store it reads is closed.
    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/console/api/stats/report", stats_report)
