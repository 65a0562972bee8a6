"""The control loop behind ``max_rate="auto"``: replies in, a send rate out.

Pure: no clock, no sleeping, no I/O. The caller tells it, for each reply, when it came and
whether it was throttling; it answers with the rate the client should send at. The client's
token bucket does the pacing (see ``ratelimit``).

What the signal is. An endpoint with a quota is, to a client, a token bucket: limit ``L``
requests/s and some burst. While a client sends faster than ``L``, the endpoint accepts exactly
``L`` a second and throttles the rest, so **the rate of accepted replies while throttled
measures the limit itself**. botocore's adaptive mode (CUBIC on the *sent* rate, cut to 0.7 of it
at each throttle) throws that away and settles near half the limit; this loop uses it:

* **Back off to just under the measured limit.** At a throttle, the accepted rate is measured
  over the time since the last cut (0.25 s to 1 s, and at least ``MIN_REPLIES`` replies; past
  the known limit, over the time spent past it, which dilutes the endpoint's burst, drained in
  the overshoot and counted as accepted; before the first throttle, over the last 0.25 s
  only). When at least ``DENSE`` (5%) of those replies were throttled, the endpoint
  was turning requests away all along, and the accepted rate is the new estimate ``E`` of the
  limit; a few throttles only (a clump sent after a stall, or the first of an overshoot) lower
  ``E`` by 5% at most, since the rate accepted then is only what was sent. Either way the rate
  becomes ``BACKOFF * E`` (0.93), but at most ``CUT * rate`` (0.95: a throttle never raises the
  rate) and at most the rate actually sent over the window, and never below ``floor``. At most
  one cut per ``COOLDOWN`` (0.15 s): replies already on their way when the rate was cut say
  nothing about the new rate.
* **Probe up, carefully near the known limit.** Below ``NEAR * E`` (0.97) the rate closes the
  gap quickly (time constant ``APPROACH``, 0.25 s); from there to ``E`` it creeps, by
  ``CREEP * E`` a second (5%; slower at a low limit, so that a probe comes once per
  ``PROBE_REPLIES`` replies, but at least ``MIN_CREEP``); past ``E`` with nothing throttled the
  limit has evidently risen, and growth accelerates with the time spent above it, by
  ``e ** (CREEP_ABOVE + ACCEL * t)`` a second after ``t`` seconds, so a raised limit is reached in
  two or three seconds, and the next throttle measures it.
* **Start slow, double fast.** Before the first throttle the rate starts at ``start_rate`` and
  doubles every ``DOUBLING`` seconds (TCP's slow start), rather than sending unpaced into an
  unknown quota and spending every call's retries at once.
* **Do not probe what is not used.** The rate only grows while the client actually sends at
  ``UTILISED`` (half) of it or more, so an idle or lightly loaded client does not talk itself
  into a rate it never tried.

Counts are kept in ``SLOT``-second slots (50 ms) over the last ``HISTORY`` seconds, so a reply
costs an increment, and the rate is recomputed once per slot or at a throttle.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["RateController"]


class RateController:
    """Learns the highest rate an endpoint accepts from its throttling replies.

    ``record(now, throttled)`` for every reply (``now`` in seconds on any monotonic clock; the
    same clock for every call) returns the send rate in requests/s; ``rate`` holds it too.
    ``limit`` is the current estimate of the endpoint's limit (``None`` before the first
    throttle).
    """

    SLOT = 0.05
    HISTORY = 2.0
    MIN_REPLIES = 20
    BACKOFF = 0.93
    CUT = 0.95
    COOLDOWN = 0.15
    DENSE = 0.05
    MIN_WINDOW = 0.25
    MAX_WINDOW = 1.0
    NEAR = 0.97
    APPROACH = 0.25
    CREEP = 0.05
    PROBE_REPLIES = 100
    MIN_CREEP = 0.01
    CREEP_ABOVE = 0.03
    ACCEL = 0.8
    DOUBLING = 0.25
    UTILISED = 0.5

    __slots__ = (
        "_above_since",
        "_cut_at",
        "_slots",
        "_updated",
        "floor",
        "limit",
        "rate",
    )

    def __init__(self, *, now: float, start_rate: float = 10.0, floor: float = 0.5) -> None:
        if not (floor > 0 and math.isfinite(floor)):
            raise ValueError(f"floor must be a positive number, not {floor!r}")
        if not (start_rate >= floor and math.isfinite(start_rate)):
            raise ValueError(f"start_rate must be a number >= floor, not {start_rate!r}")
        self.floor = float(floor)
        self.rate = float(start_rate)
        self.limit: float | None = None
        # [slot start, accepted, throttled], oldest first; the last one is the open slot.
        self._slots: deque[list[float]] = deque([[now, 0, 0]])
        self._updated = now
        self._cut_at = -math.inf
        self._above_since: float | None = None

    def record(self, now: float, throttled: bool) -> float:
        """One reply at ``now``: throttling (``True``) or not. Returns the new send rate."""
        current = self._slots[-1]
        if now - current[0] >= self.SLOT:
            self._roll(now)
            current = self._slots[-1]
            current[1 + throttled] += 1
            if not throttled:
                self._grow(now)
        else:
            current[1 + throttled] += 1
        if throttled and now - self._cut_at >= self.COOLDOWN:
            self._cut(now)
        return self.rate

    # --- measuring -------------------------------------------------------------------------------

    def _roll(self, now: float) -> None:
        slots = self._slots
        slots.append([now, 0, 0])
        horizon = now - self.HISTORY - self.SLOT
        while slots[0][0] < horizon:
            slots.popleft()

    def _counts(
        self, since: float, now: float, min_replies: float = 0.0
    ) -> tuple[float, float, float]:
        """Accepted and throttled replies from ``since`` to ``now`` and the time that covers.

        A slot partly in the window counts in proportion. The window reaches further back
        (within the history) until it holds ``min_replies``, so that a low rate is measured
        over enough replies to mean something.
        """
        accepted = throttled = 0.0
        end = now
        start = now
        for slot in reversed(self._slots):
            if slot[0] < since and accepted + throttled >= min_replies:
                if end > since:  # the slot that straddles the window's start, in part
                    share = (end - since) / (end - slot[0])
                    accepted += slot[1] * share
                    throttled += slot[2] * share
                    start = since
                break
            accepted += slot[1]
            throttled += slot[2]
            start = end = slot[0]
        return accepted, throttled, now - start

    # --- deciding --------------------------------------------------------------------------------

    def _cut(self, now: float) -> None:
        """A throttle: measure the accepted rate and settle just under it."""
        if self.limit is None:
            # Slow start: the rate was doubling, only the latest replies tell the limit.
            window = self.MIN_WINDOW
        elif self._above_since is not None:
            # Probing past the known limit: over the time spent past it, which dilutes the
            # endpoint's burst (drained in the overshoot, then counted as accepted).
            since = now - self._above_since
            window = min(max(since, self.MIN_WINDOW), self.MAX_WINDOW)
        else:
            window = min(max(now - self._cut_at, self.MIN_WINDOW), self.MAX_WINDOW)
        accepted, throttled, span = self._counts(now - window, now, self.MIN_REPLIES)
        measured = accepted / max(span, self.SLOT)
        limit = self.limit
        if limit is None or throttled >= max(self.DENSE * (accepted + throttled), 3.0):
            # Throttled enough that the endpoint was turning requests away all along: what
            # it accepted is its limit.
            limit = measured
        else:
            # A few throttles: a burst (a stall on either side sends a clump at once), or the
            # first of an overshoot. The accepted rate is then what was sent, a floor for the
            # limit rather than the limit: lower the estimate by CUT at most (a steady
            # overshoot turns dense within a cut or two and is measured then).
            limit = max(measured, self.CUT * limit)
        self.limit = max(limit, self.floor)
        # And never above what was actually sent: throttled at that, more is no use.
        sent = (accepted + throttled) / max(span, self.SLOT)
        rate = min(self.BACKOFF * self.limit, self.CUT * self.rate, sent)
        self.rate = max(self.floor, rate)
        self._cut_at = self._updated = now
        self._above_since = None

    def _grow(self, now: float) -> None:
        """Nothing throttled lately: probe upward, if the rate is being used."""
        dt = now - self._updated
        self._updated = now
        if dt <= 0 or now - self._cut_at < self.COOLDOWN:
            return
        # Over a quarter second, or the time the rate takes for four replies if longer.
        window = max(self.MIN_WINDOW, 4.0 / self.rate)
        sent_accepted, sent_throttled, span = self._counts(now - window, now)
        used = (sent_accepted + sent_throttled) / max(span, self.SLOT)
        if used < self.UTILISED * self.rate:
            self._above_since = None
            return
        rate, limit = self.rate, self.limit
        if limit is None:
            rate *= 2.0 ** (dt / self.DOUBLING)
        elif rate < self.NEAR * limit:
            target = self.NEAR * limit
            rate += (target - rate) * (1.0 - math.exp(-dt / self.APPROACH))
            rate = max(rate, min(target, self.rate + self.CREEP * limit * dt))
        elif rate < limit:
            # Each probe past the limit costs a few throttled replies, whatever the rate: at a
            # low limit, creep slowly enough that a probe comes once per PROBE_REPLIES replies
            # (but at least once per 5 s).
            creep = min(
                self.CREEP, max(self.MIN_CREEP, (1.0 - self.NEAR) * limit / self.PROBE_REPLIES)
            )
            rate = min(rate + creep * limit * dt, limit)
            self._above_since = None
        else:
            if self._above_since is None:
                self._above_since = now
            growth = self.CREEP_ABOVE + self.ACCEL * (now - self._above_since)
            rate *= math.exp(growth * dt)
        self.rate = rate
