"""bench/chaos.py's pieces that need no servers: the markers that tie a stored row to the
request that sent it, the tally of answers against stored rows, and the hostile corpus."""

import json
from collections import Counter
from datetime import UTC, datetime
from typing import cast

from bench import chaos


def test_a_marker_is_found_whatever_follows_it():
    assert chaos.marker_of("chaos redis-12") == "chaos redis-12"
    assert chaos.marker_of("chaos malformed-7\u202e\x1b[31m") == "chaos malformed-7"
    assert chaos.marker_of("stuck at 99%") == ""


def test_the_tally_counts_lost_duplicated_and_planned_errors(monkeypatch):
    answers = [
        chaos.Answer("chaos t-0", 201, 0.0, 0.1),
        chaos.Answer("chaos t-1", 201, 0.1, 0.2),
        chaos.Answer("chaos t-2", 503, 0.2, 0.3),
        chaos.Answer("chaos t-3", 500, 0.3, 0.4),
        chaos.Answer("chaos t-4", 0, 0.4, 9.4),
    ]
    # t-1 acknowledged and never stored; t-0 stored twice; t-4 stored without an answer.
    stored = Counter({"chaos t-0": 2, "chaos t-4": 1})
    monkeypatch.setattr(chaos, "stored_markers", lambda app, scenario: stored)
    # No servers: the stored rows come from the stand-in above.
    result = chaos.tally(cast(chaos.App, None), "t", answers, planned=lambda a: a.status == 503)
    assert {k: result[k] for k in ("sent", "acknowledged", "stored", "lost", "duplicated")} == {
        "sent": 5,
        "acknowledged": 2,
        "stored": 3,
        "lost": 1,
        "duplicated": 1,
    }
    assert result["stored_unacknowledged"] == 1
    assert (result["5xx"], result["planned_5xx"], result["unplanned_5xx"]) == (2, 1, 1)
    assert result["status"] == {"0": 1, "201": 2, "500": 1, "503": 1}


def test_the_corpus_reaches_every_intake_field_with_markers_of_its_own():
    cases = list(chaos.malformed_corpus("token"))
    names = [name for name, *_ in cases]
    assert len(names) > 500
    markers = []
    for _, method, path, body, _headers in cases:
        assert method in ("GET", "POST") and path.startswith("/")
        if body and path.startswith("/api/v1/reports") and body.startswith(b"{"):
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                continue  # bodies that are not JSON, or nested past any decoder
            item = data["reports"][0] if "reports" in data else data
            if isinstance(item, dict) and isinstance(item.get("comment"), str):
                markers.append(chaos.marker_of(item["comment"]))
    # Every report that could be stored can be told apart from every other.
    assert all(markers) and len(markers) == len(set(markers))
    for field in ("service", "problem", "country", "subdivision", "comment"):
        assert any(f"reports {field} " in n for n in names)
        assert any(f"reports/batch {field} " in n for n in names)
    assert any("cursor" in n for n in names) and any("observed_at" in n for n in names)


def test_a_restarted_worker_recovers_from_its_process_start_not_from_ready():
    started = datetime(2026, 12, 1, 18, 25, 19, 340000, tzinfo=UTC)
    log = (
        # The worker's earlier life, before the restart: not this recovery.
        b"[2026-12-01 18:25:06,402: INFO/ForkPoolWorker-1] Task analytics.tasks.detect_task"
        b"[e27d] succeeded in 0.10s: 0\n"
        b" -------------- celery@vm v5.7.0 (collider)\n"
        b"[2026-12-01 18:25:24,274: INFO/MainProcess] Connected to redis://127.0.0.1:6379/0\n"
        b"[2026-12-01 18:25:24,401: INFO/MainProcess] celery@vm ready.\n"
        b"[2026-12-01 18:25:24,403: INFO/MainProcess] Task analytics.tasks.detect_task[fff8]"
        b" received\n"
        b"[2026-12-01 18:25:24,574: INFO/ForkPoolWorker-2] Task analytics.tasks.detect_task"
        b"[fff8] succeeded in 0.16s: 0\n"
    )
    found = chaos.worker_recovery(log, started)
    # Judged: from the process's start to the end of its first pass, the boot included.
    assert found["recover_s"] == 5.23
    assert (found["worker_ready_s"], found["pass_after_ready_s"]) == (5.06, 0.17)
    # A worker that has not passed yet has not recovered.
    assert chaos.worker_recovery(log.rsplit(b"\n", 2)[0], started)["recover_s"] is None
