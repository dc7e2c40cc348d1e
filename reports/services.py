import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports.abuse import address_cap_claim, address_cap_release, dedupe_claim, dedupe_release
from reports.models import Report, Source
from reports.validation import CleanReport

COPY_COLUMNS = (
    "service_id",
    "problem",
    "country",
    "subdivision",
    "comment",
    "created_at",
    "source",
    "client_key",
)


def client_key_for(identity: str) -> str:
    """A salted, truncated HMAC: stable per browser/IP for dedupe, useless for recovering it."""
    digest = hmac.new(
        settings.CLIENT_KEY_SALT.encode(), identity.encode(), hashlib.sha256
    ).hexdigest()
    return digest[:32]


def report_create(
    *, report: CleanReport, source: str, client_key: str, counted: bool = True
) -> Report:
    return Report.objects.create(
        service_id=report.service_id,
        problem=report.problem,
        country=report.country,
        subdivision=report.subdivision,
        comment=report.comment,
        source=source,
        client_key=client_key,
        counted=counted,
        created_at=timezone.now(),
    )


Row = tuple[int, str, str, str, str, datetime, str, str]
# Rows per executemany call on SQLite: big enough to be fast, small enough to bound memory.
INSERT_BATCH = 5000


def report_rows_insert(
    *, rows: Sequence[Row], received_at: Sequence[datetime | None] | None = None
) -> int:
    """Store raw report rows (in COPY_COLUMNS order) in one transaction: COPY on PostgreSQL, a
    batched executemany elsewhere (several times faster than bulk_create on SQLite, which caps
    a multi-row INSERT at ~120 reports). `received_at`, one per row if given, is when a
    report observed earlier arrived (None: it arrived at its `created_at`)."""
    table = Report._meta.db_table
    columns: tuple[str, ...] = COPY_COLUMNS
    data: Sequence[tuple[Any, ...]] = rows
    if received_at is not None:
        columns = (*COPY_COLUMNS, "received_at")
        data = [(*row, at) for row, at in zip(rows, received_at, strict=True)]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            # The raw psycopg cursor bypasses Django's error translation; restore it so callers
            # see django.db errors (OperationalError, DataError) as with any other query.
            with connection.cursor() as cursor, connection.wrap_database_errors:
                with cursor.cursor.copy(sql) as copy:
                    for row in data:
                        copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            with connection.cursor() as cursor:
                for i in range(0, len(data), INSERT_BATCH):
                    cursor.executemany(
                        sql,
                        [
                            (*r[:5], adapt(r[5]), *r[6:8], *(adapt(at) for at in r[8:]))
                            for r in data[i : i + INSERT_BATCH]
                        ],
                    )
    return len(rows)


def report_create_many(
    *,
    reports: Sequence[CleanReport],
    client_keys: Sequence[str],
    source: str = Source.BATCH,
    created_at: datetime | None = None,
    observed_at: Sequence[datetime | None] | None = None,
) -> int:
    """Store many validated reports at once, stamped with the same server time, or with
    their own `observed_at` where one is given (a backlog sent late): a report is counted in
    the minute it happened, and the time it arrived is kept for the rollup to find it."""
    now = created_at or timezone.now()
    if observed_at is None or not any(observed_at):
        return report_rows_insert(
            rows=[
                (r.service_id, r.problem, r.country, r.subdivision, r.comment, now, source, key)
                for r, key in zip(reports, client_keys, strict=True)
            ]
        )
    return report_rows_insert(
        rows=[
            (r.service_id, r.problem, r.country, r.subdivision, r.comment, at or now, source, key)
            for r, key, at in zip(reports, client_keys, observed_at, strict=True)
        ],
        received_at=[now if at is not None else None for at in observed_at],
    )


@dataclass(frozen=True, slots=True)
class Submission:
    """What became of a submitted report: `report` is None for a repeat (nothing stored);
    a stored report over its address's cap has `counted` False."""

    report: Report | None
    counted: bool


def report_submit(*, report: CleanReport, source: str, client_key: str, ip: str) -> Submission:
    """Store a report unless this client already reported the service within the window; count
    it unless its address (`ip`) already has REPORT_ADDRESS_LIMIT counted reports of the
    service in the window. Over that cap the report is still stored, marked not counted: it may
    be one of many real people behind one shared address, and the row keeps what they said.

    If the insert fails the dedupe claim and the cap's place are given back, so the client's
    retry is counted rather than silently dropped.
    """
    service_id = report.service_id
    if not dedupe_claim(client_key=client_key, service_id=service_id):
        return Submission(report=None, counted=False)
    counted = False
    try:
        counted = address_cap_claim(ip=ip, service_id=service_id)
        stored = report_create(report=report, source=source, client_key=client_key, counted=counted)
    except BaseException:
        dedupe_release(client_key=client_key, service_id=service_id)
        if counted:
            address_cap_release(ip=ip, service_id=service_id)
        raise
    return Submission(report=stored, counted=counted)
