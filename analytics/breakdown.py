"""Who is affected and by what: pure functions over rollup rows of one incident window."""

import pandas as pd

# Regions listed per incident: enough for a map legend and a table, small enough to store.
TOP_REGIONS = 20
# Problems and regions with fewer reports than this are noise, not a breakdown.
MIN_REPORTS = 3


def region_excess(
    window: pd.DataFrame, reference: pd.DataFrame, expected_total: float
) -> pd.DataFrame:
    """Reports per country and per subdivision in the window against what each usually sends.

    ``window`` and ``reference``: rows (country, subdivision, count); the reference period gives
    each region's usual share of the service's reports, ``expected_total`` the reports expected
    over the window. Returns rows (country, subdivision, reports, expected, excess), subdivision
    "" for the whole country, largest excess first.
    """
    columns = ["country", "subdivision", "reports", "expected", "excess"]
    if window.empty:
        return pd.DataFrame(columns=columns)
    ref_total = float(reference["count"].sum()) if not reference.empty else 0.0

    def level(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return frame.groupby(keys, as_index=False).agg(count=("count", "sum"))

    parts = []
    for keys in (["country"], ["country", "subdivision"]):
        got = level(window, keys).rename(columns={"count": "reports"})
        if ref_total > 0:
            ref = level(reference, keys)
            ref["expected"] = ref["count"] / ref_total * expected_total
            got = got.merge(ref[[*keys, "expected"]], on=keys, how="left")
            got["expected"] = got["expected"].fillna(0.0)
        else:
            got["expected"] = 0.0
        if keys == ["country"]:
            got["subdivision"] = ""
        else:
            got = got[got["subdivision"] != ""]
        parts.append(got)
    out = pd.concat(parts, ignore_index=True)
    out["excess"] = out["reports"] - out["expected"]
    out = out[out["reports"] >= MIN_REPORTS]
    out = out.sort_values(["excess", "reports"], ascending=False).head(TOP_REGIONS)
    return out[columns].reset_index(drop=True)


def problem_shares(window: pd.DataFrame) -> pd.DataFrame:
    """Rows (problem, reports, share), most reported first."""
    if window.empty:
        return pd.DataFrame(columns=["problem", "reports", "share"])
    got = window.groupby("problem", as_index=False).agg(reports=("count", "sum"))
    got["share"] = got["reports"] / got["reports"].sum()
    got = got[got["reports"] >= min(MIN_REPORTS, got["reports"].max())]
    return got.sort_values("reports", ascending=False).reset_index(drop=True)
