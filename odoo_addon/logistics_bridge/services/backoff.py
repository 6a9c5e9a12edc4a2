"""Capped exponential backoff with equal jitter."""
import random


def backoff_delay(attempts, base=30, cap=900, rand=random.random):
    """Seconds to wait before attempt number ``attempts + 1``.

    The ceiling doubles from ``base`` with each failed attempt up to ``cap``; the delay is drawn
    between half the ceiling and the ceiling (equal jitter), so many Odoo workers retrying after
    the same outage do not hit the bridge at the same instant, and no retry comes sooner than half
    the nominal wait.
    """
    attempts = max(int(attempts), 1)
    ceiling = min(float(cap), float(base) * (2 ** min(attempts - 1, 32)))
    return ceiling / 2 + rand() * ceiling / 2
