"""The detector's published minimums, kept free of numpy/pandas so that pages and the API can
state them without loading the analytics stack into every web worker."""

# A window must hold at least this many reports above expectation (after leaving its largest
# bucket out): a quiet service going 0 -> 2 for a few minutes is never an outage, however
# improbable that is under Poisson.
MIN_EXCESS = 5.0
# ... and at least this multiple of the expectation: a 20 % rise on a service with thousands of
# reports a minute is significant but is not what users mean by "down".
MIN_RATIO = 1.5
# An outage (not just "possible problems") needs twice the usual reports: busy services drift
# by tens of percent for hours (a campaign, a news day) and their counts make any drift
# significant.
OUTAGE_RATIO = 2.0


def outage_threshold(expected: float) -> float:
    """The outage line of a bucket: max(OUTAGE_RATIO × expected, expected + MIN_EXCESS).

    The detector calls nothing an outage below OUTAGE_RATIO (2) times the expectation and
    MIN_EXCESS (5) extra reports; charts, the API and the status line all show this floor.
    """
    return max(expected * OUTAGE_RATIO, expected + MIN_EXCESS)
