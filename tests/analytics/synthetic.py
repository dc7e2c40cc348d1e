"""Small simulated report series for the detection and baseline tests."""

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-06", tz="UTC")  # a Monday


def rhythm(index: pd.DatetimeIndex, amplitude: float = 0.5) -> np.ndarray:
    """Daily shape with mean 1, peaking mid-afternoon UTC."""
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60
    return 1 + amplitude * np.cos(2 * np.pi * (hours - 15) / 24)


def series(
    rate: float,
    weeks: float,
    *,
    seed: int = 0,
    freq: str = "1min",
    growth_per_week: float = 0.0,
    shape: float | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Counts with a daily rhythm (optionally growing and gamma-Poisson); also the true rate."""
    rng = np.random.default_rng(seed)
    step = pd.Timedelta(freq)
    periods = int(pd.Timedelta(weeks=weeks) / step)
    index = pd.date_range(START, periods=periods, freq=freq)
    per_bucket = rate * (step / pd.Timedelta(minutes=1))
    weeks_in = np.arange(periods) * (step / pd.Timedelta(weeks=1))
    true = per_bucket * rhythm(index) * (1 + growth_per_week) ** weeks_in
    lam = true if shape is None else true * rng.gamma(shape, 1 / shape, periods)
    return pd.Series(rng.poisson(lam).astype(float), index=index), true


def add_outage(
    counts: pd.Series, start: pd.Timestamp, minutes: int, multiplier: float, seed: int = 1
) -> pd.Series:
    """Extra reports: the series' own level times (multiplier - 1) during the outage."""
    rng = np.random.default_rng(seed)
    out = counts.copy()
    window = (out.index >= start) & (out.index < start + pd.Timedelta(minutes=minutes))
    level = max(float(counts[~window].mean()), 0.05)
    out[window] += rng.poisson(level * (multiplier - 1), int(window.sum()))
    return out
