import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports.abuse import dedupe_claim, dedupe_release
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


def report_create(*, report: CleanReport, source: str, client_key: str) -> Report:
    return Report.objects.create(
        service_id=report.service_id,
        problem=report.problem,
        country=report.country,
        subdivision=report.subdivision,
        comment=report.comment,
        source=source,
        client_key=client_key,
        created_at=timezone.now(),
    )


def report_create_many(
    *,
    reports: Sequence[CleanReport],
    client_keys: Sequence[str],
    source: str = Source.BATCH,
    created_at: datetime | None = None,
) -> int:
    """Store many reports in one transaction: COPY on PostgreSQL, bulk_create elsewhere."""
    now = created_at or timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = Report._meta.db_table
            sql = f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
            # The raw psycopg cursor bypasses Django's error translation; restore it so callers
            # see django.db errors (OperationalError, DataError) as with any other query.
            with connection.cursor() as cursor, connection.wrap_database_errors:
                with cursor.cursor.copy(sql) as copy:
                    for r, key in zip(reports, client_keys, strict=True):
                        copy.write_row(
                            (
                                r.service_id,
                                r.problem,
                                r.country,
                                r.subdivision,
                                r.comment,
                                now,
                                source,
                                key,
                            )
                        )
        else:
            Report.objects.bulk_create(
                [
                    Report(
                        service_id=r.service_id,
                        problem=r.problem,
                        country=r.country,
                        subdivision=r.subdivision,
                        comment=r.comment,
                        created_at=now,
                        source=source,
                        client_key=key,
                    )
                    for r, key in zip(reports, client_keys, strict=True)
                ],
                batch_size=500,
            )
    return len(reports)


def report_submit(*, report: CleanReport, source: str, client_key: str) -> Report | None:
    """Store a report unless this client already reported the service within the window.

    Returns None for a repeat. If the insert fails the dedupe claim is released, so the
    client's retry is counted rather than silently dropped.
    """
    if not dedupe_claim(client_key=client_key, service_id=report.service_id):
        return None
    try:
        return report_create(report=report, source=source, client_key=client_key)
    except BaseException:
        dedupe_release(client_key=client_key, service_id=report.service_id)
        raise
