import hashlib
import hmac
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports import abuse
from reports.abuse import (
    address_cap_claim,
    dedupe_claim,
    rate_limit_retry_after,
    recovery_claim,
)
from reports.models import Recovery, Report, Source
from reports.validation import CleanRecovery, CleanReport

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


def _report_of(
    *, report: CleanReport, source: str, client_key: str, counted: bool, created_at: datetime
) -> Report:
    return Report(
        service_id=report.service_id,
        problem=report.problem,
        country=report.country,
        subdivision=report.subdivision,
        comment=report.comment,
        source=source,
        client_key=client_key,
        counted=counted,
        created_at=created_at,
    )


def report_create(
    *, report: CleanReport, source: str, client_key: str, counted: bool = True
) -> Report:
    stored = _report_of(
        report=report,
        source=source,
        client_key=client_key,
        counted=counted,
        created_at=timezone.now(),
    )
    stored.save(force_insert=True)
    return stored


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
    """What became of a submitted report: `report` is None for a repeat (nothing stored) or
    when the address is over its rate limit (`retry_after` seconds then); a stored report over
    its address's cap has `counted` False."""

    report: Report | None
    counted: bool
    retry_after: int | None = None


INSERT_COLUMNS = (*COPY_COLUMNS, "counted")
# A single report judged and stored by one statement (PostgreSQL): the rate limit, the dedupe
# claim with its check of the stored reports, the address cap and the insert, each step only
# if the one before let the report through. A data-modifying WITH runs as one statement, so it
# all commits or none of it does, and concurrent reports of one client queue on the claim's
# row: the second sees the first's claim once that commits. The claims are reports.abuse's
# rows, counted and claimed by its clauses, the same that the form and recoveries use.
_ACCEPT_SQL = f"""
WITH rate AS (
  INSERT INTO {abuse.TABLE} AS c (key, count, expires) VALUES (%(rate_key)s, 1, %(rate_expires)s)
  {abuse.COUNTER_ON_CONFLICT}
  RETURNING count),
last AS (
  SELECT max(created_at) AS at FROM {Report._meta.db_table}
  WHERE client_key = %(client_key)s AND service_id = %(service_id)s AND created_at >= %(since)s),
claim AS (
  INSERT INTO {abuse.TABLE} AS c (key, count, expires)
  SELECT %(dedupe_key)s, 1,
         COALESCE(extract(epoch FROM (SELECT at FROM last)) + %(window)s, %(dedupe_expires)s)
  WHERE (SELECT count FROM rate) <= %(rate_limit)s
  {abuse.CLAIM_ON_CONFLICT}
  RETURNING count),
cap AS (
  INSERT INTO {abuse.TABLE} AS c (key, count, expires)
  SELECT %(cap_key)s, 1, %(cap_expires)s
  WHERE %(cap_limit)s > 0 AND EXISTS (SELECT 1 FROM claim) AND (SELECT at FROM last) IS NULL
  {abuse.COUNTER_ON_CONFLICT}
  RETURNING count),
stored AS (
  INSERT INTO {Report._meta.db_table} ({", ".join(INSERT_COLUMNS)})
  SELECT %(service_id)s, %(problem)s, %(country)s, %(subdivision)s, %(comment)s,
         %(created_at)s, %(source)s, %(client_key)s,
         COALESCE((SELECT count FROM cap) <= %(cap_limit)s, TRUE)
  WHERE EXISTS (SELECT 1 FROM claim) AND (SELECT at FROM last) IS NULL
  RETURNING id, counted)
SELECT (SELECT count FROM rate), (SELECT id FROM stored), (SELECT counted FROM stored)
"""


def _accept_in_one_statement(
    *, report: CleanReport, source: str, client_key: str, ip: str
) -> Submission:
    rate = abuse.rate_window(ip=ip)
    remembered = abuse.refused_until(rate)
    if remembered is not None:
        return Submission(report=None, counted=False, retry_after=remembered)
    window = settings.REPORT_DEDUPE_WINDOW
    cap_key, cap_expires = abuse.address_cap_key(ip=ip, service_id=report.service_id)
    created_at = timezone.now()
    params = {
        "rate_key": rate.key,
        "rate_expires": rate.expires,
        "rate_limit": settings.RATE_LIMIT_REPORTS,
        "now": rate.now,
        "client_key": client_key,
        "service_id": report.service_id,
        "since": created_at - timedelta(seconds=window),
        "dedupe_key": abuse.dedupe_key(client_key=client_key, service_id=report.service_id),
        "window": window,
        "dedupe_expires": rate.now + window,
        "cap_key": cap_key,
        "cap_expires": cap_expires,
        "cap_limit": max(0, settings.REPORT_ADDRESS_LIMIT),
        "problem": report.problem,
        "country": report.country,
        "subdivision": report.subdivision,
        "comment": report.comment,
        "created_at": created_at,
        "source": source,
    }
    # What connection.cursor() does first: the health check, then a connection.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    # A transaction around the call (a test's): a failed statement must not end it.
    around = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        with around:
            cursor.execute(_ACCEPT_SQL, params, prepare=True)
            row = cursor.fetchone()
    assert row is not None  # the outer SELECT always returns one row
    count, pk, counted = row
    retry_after = abuse.rate_counted(rate, int(count))
    if retry_after is not None:
        return Submission(report=None, counted=False, retry_after=retry_after)
    if pk is None:
        return Submission(report=None, counted=False)
    stored = _report_of(
        report=report,
        source=source,
        client_key=client_key,
        counted=bool(counted),
        created_at=created_at,
    )
    stored.pk = pk
    stored._state.adding = False  # as the ORM leaves a row it has saved
    return Submission(report=stored, counted=bool(counted))


def report_submit(*, report: CleanReport, source: str, client_key: str, ip: str) -> Submission:
    """Store a report unless this client already reported the service within the window; count
    it unless its address (`ip`) already has REPORT_ADDRESS_LIMIT counted reports of the
    service in the window. Over that cap the report is still stored, marked not counted: it may
    be one of many real people behind one shared address, and the row keeps what they said.

    The claims and the row are one transaction: if the insert fails, the dedupe claim and the
    cap's place go with it, so the client's retry is counted rather than silently dropped.
    """
    service_id = report.service_id
    with transaction.atomic():
        if not dedupe_claim(client_key=client_key, service_id=service_id):
            return Submission(report=None, counted=False)
        counted = address_cap_claim(ip=ip, service_id=service_id)
        stored = report_create(report=report, source=source, client_key=client_key, counted=counted)
    return Submission(report=stored, counted=counted)


def _accept_one_at_a_time(
    *, report: CleanReport, source: str, client_key: str, ip: str
) -> Submission:
    # One transaction, as the statement is: a report that cannot be stored changes nothing.
    with transaction.atomic():
        retry_after = rate_limit_retry_after(ip=ip)
        if retry_after is not None:
            return Submission(report=None, counted=False, retry_after=retry_after)
        return report_submit(report=report, source=source, client_key=client_key, ip=ip)


def report_accept(*, report: CleanReport, source: str, client_key: str, ip: str) -> Submission:
    """report_submit for a request not yet counted against its address's rate limit. On
    PostgreSQL the rate limit, the dedupe, the address cap and the insert are one statement
    (one round trip, one commit; a failure changes nothing); elsewhere they run one after the
    other, as report_submit does after the rate limit."""
    if connection.vendor == "postgresql":
        return _accept_in_one_statement(report=report, source=source, client_key=client_key, ip=ip)
    return _accept_one_at_a_time(report=report, source=source, client_key=client_key, ip=ip)


@dataclass(frozen=True, slots=True)
class RecoverySubmission:
    """`recovery` is None for a repeat; `counted` False over the address's cap."""

    recovery: Recovery | None
    counted: bool


def recovery_submit(
    *, recovery: CleanRecovery, source: str, client_key: str, ip: str
) -> RecoverySubmission:
    """Store "it works again for me" unless this client said so for the service within the
    dedupe window. The caller has checked the rate limit and that an incident is open."""
    service_id = recovery.service_id
    # One transaction: a recovery that cannot be stored gives its claim back.
    with transaction.atomic():
        first, counted = recovery_claim(client_key=client_key, service_id=service_id, ip=ip)
        if not first:
            return RecoverySubmission(recovery=None, counted=False)
        stored = Recovery.objects.create(
            service_id=service_id,
            country=recovery.country,
            subdivision=recovery.subdivision,
            source=source,
            client_key=client_key,
            counted=counted,
            created_at=timezone.now(),
        )
    return RecoverySubmission(recovery=stored, counted=counted)
