"""The customer's reports, /userman/reports: time, traffic and money per user over a period
(the legacy customer page's Reports), as a printable page or a CSV download, within what the
customer may see."""

from __future__ import annotations

import csv
import datetime as dt
import io

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from userman.core.errors import InvalidValueError
from userman.services.fields import check_characters
from userman.services.reports import Report
from userman.web.clock import zone_of
from userman.web.customer import Page
from userman.web.pages import render, userman_of

__all__ = ["router"]

router = APIRouter(prefix="/userman", include_in_schema=False)
DEFAULT_DAYS = 30


# The days a report may cover: any later or earlier is no day of service, and the edges of
# Python's dates would overflow when the day is turned into UTC moments.
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


def _date(text: str, name: str, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(name, "a date as YYYY-MM-DD") from None
    if not EARLIEST <= day <= LATEST:
        raise InvalidValueError(name, f"a date from {EARLIEST} to {LATEST}")
    return day


def _csv(report: Report) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user", "sessions", "uptime-seconds", "download-bytes", "upload-bytes",
                     f"paid-{report.currency}"])  # fmt: skip
    for line in (*report.lines, report.total):
        writer.writerow([line.user or "(total)", line.sessions, line.uptime, line.download,
                         line.upload, f"{line.paid:.2f}"])  # fmt: skip
    name = f"userman-report-{report.first}-{report.last}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/reports", response_class=HTMLResponse)
def reports(  # noqa: PLR0917 - the page's query
    request: Request,
    page: Page,
    first: str = "",
    last: str = "",
    user: str = "",
    format: str = "html",
) -> Response:
    """The report from `first` to `last` (YYYY-MM-DD, inclusive; the last 30 days unless
    given), of every user or those whose name contains `user`; `format=csv` downloads it."""
    userman = userman_of(request)
    today = dt.datetime.now(zone_of(request)).date()  # the customer's, as the report's days
    till = _date(last, "last", today)
    since = _date(first, "first", till - dt.timedelta(days=DEFAULT_DAYS - 1))
    check_characters(user, "user", bidi=True)  # a NUL PostgreSQL would refuse, say
    report = userman.report(page.actor, since, till, user[:64])
    if format == "csv":
        return _csv(report)
    return render(
        request,
        "reports.html",
        actor=page.actor,
        csrf=page.csrf,
        section="reports",
        report=report,
    )
