"""SQL that differs by database, for the reads of rollup tables. No pandas here: the web
workers import it."""

from django.db import connection

_EPOCH_SQL = {
    "postgresql": "extract(epoch from {col})::bigint",
    "sqlite": "CAST(strftime('%%s', {col}) AS INTEGER)",
}


def epoch_seconds(col: str) -> str:
    """Seconds since the epoch of a datetime column, computed by the database: cheaper than a
    Python datetime per row, and buckets can be summed in SQL."""
    return _EPOCH_SQL[connection.vendor].format(col=col)
