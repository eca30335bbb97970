"""Times as SageMaker keeps and renders them: naive UTC (as moto keeps time), to the millisecond."""

from __future__ import annotations

from datetime import datetime

from moto.core.utils import utcnow

_EPOCH = datetime(1970, 1, 1)


def to_millisecond(moment: datetime) -> datetime:
    """Truncate a time to the millisecond.

    The API returns times in milliseconds, so a time read back from a description compares equal to
    the one the emulator keeps (``LastModifiedTimeAfter=<a job's LastModifiedTime>`` excludes that job).

    Parameters
    ----------
    moment
        A naive UTC time.

    Returns
    -------
    datetime
        ``moment`` without its sub-millisecond part.
    """
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now() -> datetime:
    """Tell the current naive UTC time, to the millisecond.

    Returns
    -------
    datetime
        moto's ``utcnow()``, truncated by :func:`to_millisecond`.
    """
    return to_millisecond(utcnow())


def iso(moment: datetime) -> str:
    """Render a time as the ISO-8601 string of model package events.

    AWS's example event shows whole seconds; milliseconds are kept because the emulator updates a
    package several times a second and consumers deduplicate on ``LastModifiedTime``.

    Parameters
    ----------
    moment
        A naive UTC time.

    Returns
    -------
    str
        ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
    """
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_millis(moment: datetime) -> int:
    """Render a time as the epoch milliseconds of job events.

    Parameters
    ----------
    moment
        A naive UTC time.

    Returns
    -------
    int
        Milliseconds since 1970-01-01T00:00:00Z.
    """
    return round((moment - _EPOCH).total_seconds() * 1000)
