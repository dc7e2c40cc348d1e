"""The real series in bench/realdata: they load with their labels, and the bench's in-process
detection is exactly what ``manage.py detect_csv`` writes."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management import call_command

from bench import nab
from bench.detect_quality import REALDATA, real_spikes


def test_the_five_series_load_with_their_fifteen_windows_on_row_timestamps() -> None:
    files = nab.load_corpus(REALDATA)
    assert [Path(f.name).name for f in files] == [
        f"Twitter_volume_{s}.csv" for s in ("AAPL", "CRM", "FB", "IBM", "PFE")
    ]
    assert sum(len(f.windows) for f in files) == 15
    for f in files:
        assert 15_000 < f.rows < 16_000 and f.timestamps.tz is not None
        assert (np.diff(f.timestamps.asi8) > 0).all()
        for first, last in f.windows:
            # NAB's windows start and end on rows; every window is after probation.
            assert nab.probation_rows(f.rows) < first < last < f.rows
    assert (REALDATA / "LICENSE.txt").read_text().startswith("Copyright 2014-2024 Numenta")


def test_in_process_spikes_are_those_detect_csv_writes(tmp_path: Path) -> None:
    source = REALDATA / "data" / "realTweets" / "Twitter_volume_CRM.csv"
    target = tmp_path / "out.csv"
    call_command("detect_csv", str(source), str(target))
    with target.open(newline="", encoding="utf-8") as handle:
        written = np.array([row["is_spike"] == "1" for row in csv.DictReader(handle)])
    ours = real_spikes(source)
    assert ours.shape == written.shape == (len(pd.read_csv(source)),)
    assert nab.onsets(ours).any()  # incidents to compare, not only quiet rows
    assert (ours == written).all()
