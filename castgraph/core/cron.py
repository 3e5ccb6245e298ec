"""Cron schedules read in a time zone (``cronsim``, imported on first use).

Five fields (minute hour day month weekday) as in Debian cron, including its daylight-saving
rules for fixed times; a sixth, leading seconds field is accepted for frequent polling (and
short test schedules).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from castgraph.core.errors import DependencyError, InputError


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; an InputError that names an example when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Madrid"
        ) from exc


def check_cron(expr: str) -> str:
    """``expr`` normalised (single spaces), or an InputError saying what is wrong."""
    normal = " ".join(expr.split())
    if len(normal.split()) not in (5, 6):
        raise InputError(
            f"cron {expr!r} needs 5 fields (minute hour day month weekday), e.g. '0 3 * * *'"
        )
    next_after(normal, "UTC", datetime.now(UTC))
    return normal


def next_after(expr: str, tz: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expr`` matches in ``tz`` (aware, UTC)."""
    try:
        from cronsim import CronSim, CronSimError
    except ImportError as exc:  # a dependency of castgraph: only a broken install lacks it
        raise DependencyError("cronsim") from exc
    local = after.astimezone(zone(tz))
    try:
        found = next(CronSim(expr, local))
    except CronSimError as exc:
        raise InputError(f"cron {expr!r}: {exc} (e.g. '0 3 * * *' is nightly at 03:00)") from exc
    except StopIteration as exc:
        raise InputError(f"cron {expr!r} never matches a date") from exc
    return found.astimezone(UTC)
