"""``manage.py detect_csv IN.csv OUT.csv``: run the outage detector over one series in a file.

IN has a header with at least ``timestamp`` and ``value`` (other columns are carried along).
Rows are regular buckets in increasing time; the bucket size is the most common gap between
consecutive timestamps, and a bucket with no row counts as zero reports. Timestamps are
ISO 8601, with or without an offset; without one they are UTC.

OUT holds exactly the rows of IN, in order, with their columns (``timestamp`` rewritten as UTC
ISO 8601 with an offset) plus ``expected``, ``threshold``, ``score``, ``state`` and
``is_spike`` (1 while the state is "outage"). Detection runs on the filled regular grid, so a
missing bucket still counts (as zero) but gets no row of its own. ``expected``, ``threshold``
and ``score`` are empty while the baseline is still learning (the first three hours).

A malformed file stops the command with a one-line error naming the first bad CSV line, and
OUT is not written: results go to a temporary file beside OUT that replaces it only at the end.
"""

from __future__ import annotations

import csv
import os
import tempfile
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from analytics.baseline import MAX_BUCKET, MIN_BUCKET, nanos
from analytics.detection import detect

REQUIRED = ("timestamp", "value")
ADDED = ("expected", "threshold", "score", "state", "is_spike")
# A file with a few rows years apart would otherwise ask for millions of zero buckets.
MAX_GRID_ROWS = 20_000_000


class CsvError(ValueError):
    """A problem with the input file, already phrased for the user."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # CSV line number of each row (1 is the header)


def read_table(path: Path) -> Table:
    """Header and non-blank rows with their line numbers; checks the shape only."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        rows: list[list[str]] = []
        lines: list[int] = []
        header: list[str] | None = None
        header_line = 1
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header = [cell.strip() for cell in row]
                    header_line = reader.line_num
                    _check_header(header, header_line)
                    continue
                if len(row) != len(header):
                    raise CsvError(
                        f"line {reader.line_num}: expected {len(header)} fields, got {len(row)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
        except UnicodeDecodeError:
            raise CsvError(f"line {reader.line_num + 1}: not UTF-8 text") from None
        except csv.Error as exc:
            raise CsvError(f"line {reader.line_num}: {exc}") from None
    if header is None:
        raise CsvError("line 1: empty file, expected a header with timestamp,value")
    if not rows:
        raise CsvError(f"line {header_line + 1}: no data rows after the header")
    return Table(header=header, rows=rows, lines=lines)


def _check_header(header: list[str], line: int) -> None:
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvError(
            f"line {line}: missing column(s) {', '.join(missing)}; header is {','.join(header)}"
        )
    taken = [name for name in ADDED if name in header]
    if taken:
        raise CsvError(f"line {line}: column(s) {', '.join(taken)} are written by detect_csv")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise CsvError(f"line {line}: duplicate column {name}")
        seen.add(name)


def parse(table: Table) -> tuple[pd.DatetimeIndex, np.ndarray, pd.Timedelta]:
    """Timestamps (UTC), values and bucket size; CsvError naming the first bad row."""
    lines = np.asarray(table.lines)
    ts_col = table.header.index("timestamp")
    value_col = table.header.index("value")
    raw_ts = pd.Series([row[ts_col].strip() for row in table.rows], dtype=object)
    raw_values = pd.Series([row[value_col].strip() for row in table.rows], dtype=object)

    stamps = pd.to_datetime(raw_ts, utc=True, format="ISO8601", errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        i = bad[0]
        raise CsvError(f"line {lines[i]}: cannot parse timestamp {raw_ts.iloc[i]!r}")
    index = pd.DatetimeIndex(stamps).as_unit("ns")

    values = pd.to_numeric(raw_values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = bad[0]
        what = "is not finite" if np.isinf(values[i]) else "is not a number"
        raise CsvError(f"line {lines[i]}: value {raw_values.iloc[i]!r} {what}")
    bad = np.flatnonzero(values < 0)
    if bad.size:
        i = bad[0]
        raise CsvError(f"line {lines[i]}: value {raw_values.iloc[i]!r} is negative")

    if len(index) < 2:
        raise CsvError(f"line {lines[0]}: one data row; the bucket size needs at least two")
    gaps = np.diff(nanos(index))
    bad = np.flatnonzero(gaps <= 0)
    if bad.size:
        i = bad[0] + 1
        what = (
            "duplicate timestamp" if gaps[bad[0]] == 0 else "timestamp earlier than the row before"
        )
        raise CsvError(f"line {lines[i]}: {what} {raw_ts.iloc[i]!r}")
    step = int(pd.Series(gaps).mode().min())
    bucket = pd.Timedelta(step, unit="ns")
    first_step = int(np.flatnonzero(gaps == step)[0]) + 1
    if not MIN_BUCKET <= bucket <= MAX_BUCKET:
        raise CsvError(
            f"line {lines[first_step]}: bucket size {bucket} is outside {MIN_BUCKET}..{MAX_BUCKET}"
        )
    bad = np.flatnonzero(gaps % step)
    if bad.size:
        i = bad[0] + 1
        raise CsvError(
            f"line {lines[i]}: timestamp {raw_ts.iloc[i]!r} is not on the {bucket} grid "
            f"of the other rows"
        )
    if (nanos(index)[-1] - nanos(index)[0]) // step + 1 > MAX_GRID_ROWS:
        i = int(np.argmax(gaps)) + 1
        raise CsvError(f"line {lines[i]}: gap too large, over {MAX_GRID_ROWS} buckets in all")
    return index, values, bucket


def _fmt(values: np.ndarray, digits: int) -> list[str]:
    return ["" if np.isnan(v) else f"{v:.{digits}f}" for v in values.tolist()]


def write_atomically(path: Path, header: list[str], columns: list[list[str]]) -> None:
    """Write rows to a temporary file next to ``path`` and move it into place."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(zip(*columns, strict=True))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def run(source: Path, target: Path) -> int:
    """Detect over ``source`` and write ``target``; returns the number of rows written."""
    table = read_table(source)
    index, values, bucket = parse(table)
    result = detect(pd.Series(values, index=index), bucket=bucket)
    positions = (nanos(index) - nanos(index)[0]) // bucket.value
    picked = result.iloc[positions]
    state = picked["state"].astype(str).tolist()
    ts_col = table.header.index("timestamp")
    columns = [[row[i] for row in table.rows] for i in range(len(table.header))]
    columns[ts_col] = [stamp.isoformat() for stamp in index]
    columns += [
        _fmt(picked["expected"].to_numpy(dtype=np.float64), 4),
        _fmt(picked["threshold"].to_numpy(dtype=np.float64), 0),
        _fmt(picked["score"].to_numpy(dtype=np.float64), 2),
        state,
        ["1" if s == "outage" else "0" for s in state],
    ]
    write_atomically(target, table.header + list(ADDED), columns)
    return len(table.rows)


class Command(BaseCommand):
    help = (
        "Run outage detection over a CSV of timestamp,value counts and write the rows with "
        "expected, threshold, score, state and is_spike."
    )
    # Pure file-to-file work: no database, no system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("input", type=Path, help="CSV with timestamp,value columns")
        parser.add_argument("output", type=Path, help="CSV to write (replaced atomically)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = run(options["input"], options["output"])
        except CsvError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(
                f"{options['output']}: cannot write: {exc.strerror or exc}"
            ) from None
        if options["verbosity"] > 1:
            self.stdout.write(f"{rows} rows written to {options['output']}")
