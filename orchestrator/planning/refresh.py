"""Time in a plan: the base's refresh period (a key input) and the date every image of a run
carries (``SOURCE_DATE_EPOCH``), both functions of the run's start time only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def refresh_period(refresh: str, now: datetime) -> str:
    """The current period of a base's refresh policy, e.g. ``weekly:2026-W48``."""
    match refresh:
        case "daily":
            return f"daily:{now:%Y-%m-%d}"
        case "weekly":
            year, week, _ = now.isocalendar()
            return f"weekly:{year}-W{week:02d}"
        case "monthly":
            return f"monthly:{now:%Y-%m}"
        case "updates":
            # Not time: the archive's versions (each node's ``archive`` input).
            return "updates"
    return "never"


def source_date_epoch(refresh: str, now: datetime) -> int:
    """The time every image of a run is dated (``SOURCE_DATE_EPOCH``, the commit timestamp,
    the ``created`` label): the start of the base's current refresh period, or 0 for a base
    never refreshed or refreshed by the archive's versions (``updates``: no date is one of
    its inputs). A function of the base's key, so two builds of one key agree on it."""
    match refresh:
        case "daily":
            start = now.date()
        case "weekly":
            start = now.date() - timedelta(days=now.date().isoweekday() - 1)
        case "monthly":
            start = date(now.year, now.month, 1)
        case _:
            return 0
    return int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
