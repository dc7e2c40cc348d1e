"""manage.py detect_csv: happy path, every malformed-file case, atomic output, a large file."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.analytics.synthetic import START, add_outage, series

ROOT = Path(__file__).resolve().parents[2]
ADDED = ["expected", "threshold", "score", "state", "is_spike"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def test_happy_path_with_an_outage(tmp_path: Path) -> None:
    counts, _ = series(rate=4, weeks=3, seed=31)
    at = START + pd.Timedelta(weeks=2, days=4, hours=9)
    counts = add_outage(counts, at, minutes=45, multiplier=8)
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(counts.index).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": counts.astype(int).to_numpy(),
            "site": "eu",
        }
    )
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    target = tmp_path / "out.csv"
    call_command("detect_csv", str(source), str(target))

    rows = read(target)
    assert len(rows) == len(frame)
    assert list(rows[0]) == ["timestamp", "value", "site", *ADDED]
    assert rows[0]["timestamp"] == "2025-01-06T00:00:00+00:00"
    assert rows[0]["expected"] == "" and rows[0]["state"] == "ok"  # still learning
    states = [r["state"] for r in rows]
    assert set(states) <= {"ok", "possible", "outage"}
    assert all((r["is_spike"] == "1") == (r["state"] == "outage") for r in rows)
    alarm = [pd.Timestamp(r["timestamp"]) for r in rows if r["is_spike"] == "1"]
    assert alarm and at <= alarm[0] <= at + pd.Timedelta(minutes=5)
    assert alarm[-1] < at + pd.Timedelta(hours=2)
    last = rows[-1]
    assert float(last["expected"]) > 0 and float(last["threshold"]) >= 5 and last["score"] != ""
    assert not list(tmp_path.glob(".out.csv.*"))  # no temporary file left behind


def test_timezones_gaps_and_bucket_size_are_inferred(tmp_path: Path) -> None:
    index = pd.date_range(START, periods=2000, freq="5min")
    rng = np.random.default_rng(32)
    values = rng.poisson(3, len(index))
    keep = np.ones(len(index), dtype=bool)
    keep[[5, 6, 700]] = False  # missing buckets: zero reports, no output row
    stamps = [
        ts.strftime("%Y-%m-%d %H:%M:%S")
        if i % 3
        else (ts + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
        for i, ts in enumerate(index)
    ]
    frame = pd.DataFrame({"value": values, "timestamp": stamps})[keep]
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    target = tmp_path / "out.csv"
    call_command("detect_csv", str(source), str(target))

    rows = read(target)
    assert len(rows) == keep.sum()
    assert list(rows[0]) == ["value", "timestamp", *ADDED]
    got = pd.DatetimeIndex([r["timestamp"] for r in rows])
    assert got.equals(pd.DatetimeIndex(index[keep]))
    assert all(r["timestamp"].endswith("+00:00") for r in rows)
    assert [r["value"] for r in rows] == [str(v) for v in values[keep]]


GOOD = "2025-01-06T00:0{}:00"

MALFORMED = {
    "empty file": ("", "line 1: empty file"),
    "blank lines only": ("\n\n", "line 1: empty file"),
    "header only": ("timestamp,value\n", "line 2: no data rows"),
    "missing value column": (lines("timestamp,count", f"{GOOD.format(0)},1"), "line 1: missing"),
    "missing timestamp column": (lines("time,value", f"{GOOD.format(0)},1"), "line 1: missing"),
    "output column in input": (
        lines("timestamp,value,state", f"{GOOD.format(0)},1,ok"),
        "line 1: column(s) state",
    ),
    "duplicate column": (
        lines("timestamp,value,value", f"{GOOD.format(0)},1,2"),
        "line 1: duplicate column",
    ),
    "unparsable timestamp": (
        lines("timestamp,value", f"{GOOD.format(0)},1", f"{GOOD.format(1)},1", "yesterday,2"),
        "line 4: cannot parse timestamp 'yesterday'",
    ),
    "unsorted": (
        lines("timestamp,value", *(f"{GOOD.format(m)},1" for m in (0, 2, 1, 3))),
        "line 4: timestamp earlier than the row before",
    ),
    "duplicate timestamp": (
        lines("timestamp,value", *(f"{GOOD.format(m)},1" for m in (0, 0, 1))),
        "line 3: duplicate timestamp",
    ),
    "non-numeric value": (
        lines(
            "timestamp,value", *(f"{GOOD.format(m)},{v}" for m, v in ((0, 1), (1, 2), (2, "abc")))
        ),
        "line 4: value 'abc' is not a number",
    ),
    "empty value": (
        lines("timestamp,value", f"{GOOD.format(0)},1", f"{GOOD.format(1)},"),
        "line 3: value '' is not a number",
    ),
    "not finite": (
        lines("timestamp,value", f"{GOOD.format(0)},1", f"{GOOD.format(1)},inf"),
        "line 3: value 'inf' is not finite",
    ),
    "negative value": (
        lines("timestamp,value", f"{GOOD.format(0)},1", f"{GOOD.format(1)},-3"),
        "line 3: value '-3' is negative",
    ),
    "wrong field count": (
        lines("timestamp,value", f"{GOOD.format(0)},1", f"{GOOD.format(1)},1,extra"),
        "line 3: expected 2 fields, got 3",
    ),
    "off the grid": (
        lines(
            "timestamp,value", *(f"{GOOD.format(m)},1" for m in (0, 1, 2)), "2025-01-06T00:03:30,1"
        ),
        "line 5: timestamp '2025-01-06T00:03:30' is not on the",
    ),
    "one data row": (lines("timestamp,value", f"{GOOD.format(0)},1"), "line 2: one data row"),
    "blank lines keep their numbers": (
        lines("timestamp,value", f"{GOOD.format(0)},1", "", f"{GOOD.format(1)},x"),
        "line 4: value 'x' is not a number",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_fail_naming_the_row_and_write_nothing(tmp_path: Path, case: str) -> None:
    text, message = MALFORMED[case]
    source = write(tmp_path / "in.csv", text)
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError) as failure:
        call_command("detect_csv", str(source), str(target))
    assert str(failure.value).startswith(message), str(failure.value)
    assert "\n" not in str(failure.value)
    assert not target.exists()
    assert os.listdir(tmp_path) == ["in.csv"]


def test_not_utf8_and_missing_input(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"timestamp,value\n2025-01-06T00:00:00,1\n2025-01-06T00:01:00,\xff\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("detect_csv", str(source), str(tmp_path / "out.csv"))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("detect_csv", str(tmp_path / "absent.csv"), str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()


def test_a_failed_run_leaves_an_existing_output_alone(tmp_path: Path) -> None:
    target = write(tmp_path / "out.csv", "previous results\n")
    source = write(tmp_path / "in.csv", lines("timestamp,value", f"{GOOD.format(0)},-1"))
    with pytest.raises(CommandError):
        call_command("detect_csv", str(source), str(target))
    assert target.read_text() == "previous results\n"


def test_command_line_exit_status_and_one_line_error(tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.csv",
        lines("timestamp,value", *(f"{GOOD.format(m)},1" for m in (0, 2, 1))),
    )
    target = tmp_path / "out.csv"
    done = subprocess.run(
        [sys.executable, "manage.py", "detect_csv", str(source), str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert "line 4" in done.stderr
    assert not target.exists()


def test_a_100k_row_file_runs(tmp_path: Path) -> None:
    index = pd.date_range(START, periods=100_000, freq="1min")
    values = np.random.default_rng(33).poisson(2, len(index))
    source = tmp_path / "in.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%S"), "value": values}).to_csv(
        source, index=False
    )
    target = tmp_path / "out.csv"
    call_command("detect_csv", str(source), str(target))
    with target.open() as handle:
        assert sum(1 for _ in handle) == 100_001
