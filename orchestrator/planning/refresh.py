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


# The date of images whose base has no refresh period (``updates``, ``never``): no date is
# one of their inputs. 1980-01-01, not 0: the earliest date a ZIP file (a wheel) can hold,
# and a file dated 0 is never read by oslo's read_cached_file (it reloads a file only when
# its mtime is greater than the 0 it starts from): keystone ignored its policy.yaml.
FIXED_EPOCH = 315532800


def source_date_epoch(refresh: str, now: datetime) -> int:
    """The time every image of a run is dated (``SOURCE_DATE_EPOCH``, the commit timestamp,
    the ``created`` label, every file's mtime): the start of the base's current refresh
    period, or :data:`FIXED_EPOCH` for a base never refreshed or refreshed by the archive's
    versions (``updates``). A function of the base's key, so two builds of one key agree."""
    match refresh:
        case "daily":
            start = now.date()
        case "weekly":
            start = now.date() - timedelta(days=now.date().isoweekday() - 1)
        case "monthly":
            start = date(now.year, now.month, 1)
        case _:
            return FIXED_EPOCH
    return int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
