"""The ``max_rate="auto"`` control loop as a pure function: scripted reply sequences in, rates
out (table tests), then the loop closed over a simulated token-bucket endpoint in virtual time
(tests/ratesim.py), checked against the targets: goodput >= 0.9 of the limit and <= 2% of replies
throttled once settled (3 s after a change of the limit), no call failing for throttling."""

from __future__ import annotations

import math

import pytest
from ratesim import settled_share, simulate, steps

from aioglue_session.ratecontrol import RateController


def feed(
    c: RateController, start: float, seconds: float, accepted: float, throttled: float = 0.0
) -> float:
    """Replies from ``start`` for ``seconds``: ``accepted`` and ``throttled`` a second, evenly
    interleaved (open loop: whatever the controller says). Returns the end time."""
    total = accepted + throttled
    n = round(total * seconds)
    share = throttled / total if total else 0.0
    owed = 0.0
    for i in range(n):
        owed += share
        is_throttle = owed >= 1.0 - 1e-9
        if is_throttle:
            owed -= 1.0
        c.record(start + (i + 1) / total, is_throttle)
    return start + seconds


def follow(c: RateController, start: float, seconds: float) -> float:
    """Replies as fast as the controller's rate allows (a busy client, nothing throttled), the
    rate re-read every 10 ms. Returns the end time."""
    t, owed = start, 0.0
    while t < start + seconds - 1e-9:
        owed += c.rate * 0.01
        n = int(owed)
        owed -= n
        for i in range(n):
            c.record(t + (i + 1) * 0.01 / n, False)
        t += 0.01
    return t


def settle(limit: float) -> tuple[RateController, float]:
    """A controller sending at twice ``limit`` that has met one throttle after a steady second
    of ``limit`` accepted replies a second."""
    c = RateController(now=0.0, start_rate=2 * limit)
    t = feed(c, 0.0, 1.0, limit)
    c.record(t, True)
    return c, t


# --- table: what each kind of sequence does ------------------------------------------------------


def test_before_any_throttle_the_rate_doubles_every_quarter_second_while_used() -> None:
    c = RateController(now=0.0, start_rate=10.0)
    assert c.rate == 10.0 and c.limit is None
    rates = []
    t = 0.0
    for _ in range(4):
        t = follow(c, t, 0.25)
        rates.append(c.rate)
    ratios = [b / a for a, b in zip([10.0, *rates[:-1]], rates, strict=True)]
    assert all(1.6 <= r <= 2.2 for r in ratios), ratios
    assert c.limit is None


@pytest.mark.parametrize("limit", [5.0, 80.0, 200.0, 1000.0])
def test_a_throttle_measures_the_accepted_rate_and_backs_off_just_under_it(limit: float) -> None:
    c, _ = settle(limit)
    assert c.limit == pytest.approx(limit, rel=0.05)
    assert c.rate == pytest.approx(RateController.BACKOFF * c.limit, rel=0.01)


@pytest.mark.parametrize(
    ("sent", "limit"),
    [(400.0, 200.0), (1000.0, 80.0), (250.0, 200.0)],
)
def test_heavy_throttling_finds_the_limit_within_half_a_second(sent: float, limit: float) -> None:
    # Sending `sent`/s into an endpoint that accepts `limit`/s: every window measures the limit.
    c = RateController(now=0.0, start_rate=sent)
    c.limit, c.rate = sent, sent  # as if it had settled at the old, higher limit
    t = feed(c, 0.0, 0.5, limit, sent - limit)
    assert c.limit == pytest.approx(limit, rel=0.15)
    assert c.rate <= RateController.BACKOFF * limit * 1.15
    assert t == 0.5


def test_a_stray_throttle_lowers_the_estimate_by_5_percent_at_most() -> None:
    # Known limit 200/s; the client then sends 150/s and meets one throttle (a clump after a
    # stall, say): 150/s is what was sent, not what the endpoint takes.
    c, t = settle(200.0)
    known = c.limit
    assert known is not None
    t = feed(c, t, 1.0, 150.0)
    c.record(t, True)
    assert c.limit == pytest.approx(RateController.CUT * known)
    # Throttled on more than 5% of the replies, the accepted rate is the limit.
    t = feed(c, t + 0.3, 0.6, 120.0, 30.0)
    assert c.limit == pytest.approx(120.0, rel=0.1)


def test_a_cut_never_leaves_the_rate_above_what_was_sent() -> None:
    # The rate allows 400/s but the callers (many in retry backoff) send 100/s, a tenth of
    # it throttled: the rate comes down to what was sent, not just by 5%.
    c = RateController(now=0.0, start_rate=400.0)
    c.limit = 400.0
    feed(c, 0.0, 1.0, 90.0, 10.0)
    assert c.rate <= 100.0


def test_throttles_within_the_cooldown_cut_once() -> None:
    c, t = settle(100.0)
    after_cut = c.rate
    for i in range(1, 6):  # replies already in flight when the rate was cut
        c.record(t + i * 0.02, True)
    assert c.rate == after_cut
    c.record(t + RateController.COOLDOWN + 0.01, True)
    assert c.rate <= RateController.CUT * after_cut


def test_a_throttle_never_raises_the_rate() -> None:
    # A burst let through more than the rate: the measurement says "higher", the throttle says
    # "lower", and the throttle wins.
    c = RateController(now=0.0, start_rate=50.0)
    c.limit = 50.0
    t = feed(c, 0.0, 0.3, 300.0)
    before = c.rate
    c.record(t, True)
    assert c.rate <= RateController.CUT * before


def test_after_a_cut_it_closes_most_of_the_gap_fast_then_creeps_to_the_known_limit() -> None:
    c, t = settle(200.0)
    limit = c.limit
    assert limit is not None
    t = follow(c, t, 0.75)
    # Time constant 0.25 s towards NEAR (0.97) of the limit: most of the way in 0.75 s.
    assert 0.955 * limit <= c.rate <= 0.975 * limit
    creep_start = c.rate
    t = follow(c, t, 0.5)
    # Then 5% of the limit a second: tightening the probe near the last known limit.
    assert c.rate - creep_start == pytest.approx(0.025 * limit, rel=0.4)
    assert c.rate <= limit


def test_past_the_known_limit_with_nothing_throttled_growth_accelerates() -> None:
    c, t = settle(80.0)
    limit = c.limit
    assert limit is not None
    while c.rate < limit:
        t = follow(c, t, 0.1)
    increments = []
    for _ in range(4):
        before = c.rate
        t = follow(c, t, 0.5)
        increments.append(c.rate / before)
    assert increments == sorted(increments) and increments[-1] > 2 * increments[0] - 1
    # The limit rose from 80 to 250: the rate is there within 4 s of the last throttle at 80,
    # even when the limit rose just after that throttle (the slowest case).
    c2, start = settle(80.0)
    t2 = start
    while c2.rate < 250.0:
        t2 = follow(c2, t2, 0.05)
    assert t2 - start < 4.0


def test_an_unused_rate_is_not_probed() -> None:
    c, t = settle(200.0)
    t = follow(c, t, 1.0)  # closes the gap while used
    held = c.rate
    feed(c, t, 5.0, 0.3 * held)  # the application asks for less than half of it
    assert c.rate == pytest.approx(held, rel=0.01)


def test_the_rate_never_goes_below_the_floor() -> None:
    c = RateController(now=0.0, start_rate=20.0, floor=2.0)
    t = 0.0
    for _ in range(50):  # nothing but throttles for 10 s
        t += 0.2
        c.record(t, True)
        assert c.rate >= 2.0
    assert c.rate == 2.0 and c.limit == 2.0
    # And from the floor it finds its way up again once the endpoint accepts.
    start = t
    while c.rate < 100.0 and t < start + 30.0:
        t = follow(c, t, 0.5)
    assert c.rate >= 100.0 and t - start < 10.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"floor": 0.0}, "floor"),
        ({"floor": math.nan}, "floor"),
        ({"start_rate": 0.1, "floor": 1.0}, "start_rate"),
        ({"start_rate": math.inf}, "start_rate"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateController(now=0.0, **kwargs)


# --- closed loop: the targets against a simulated token-bucket endpoint ---------------------------


@pytest.mark.parametrize("limit", [20.0, 150.0, 600.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_at_a_steady_limit_it_settles_at_the_limit(limit: float, seed: int) -> None:
    c = RateController(now=0.0)
    result = simulate(c, steps((0.0, limit)), seconds=20.0, seed=seed)
    goodput, throttled = settled_share(result, 4.0, 20.0, limit)
    assert goodput >= 0.9
    assert throttled <= 0.02
    assert result.calls_failed == 0
    # Never oscillating wider than a bound once settled.
    rates = result.rates_in(4.0, 20.0)
    assert 0.8 * limit <= min(rates) and max(rates) <= 1.6 * limit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_over_steps_200_80_250_it_follows_the_limit(seed: int) -> None:
    c = RateController(now=0.0)
    result = simulate(c, steps((0.0, 200.0), (10.0, 80.0), (20.0, 250.0)), seconds=30.0, seed=seed)
    for start, end, limit in [(3.0, 10.0, 200.0), (13.0, 20.0, 80.0), (23.0, 30.0, 250.0)]:
        goodput, throttled = settled_share(result, start, end, limit)
        assert goodput >= 0.9, (start, goodput)
        assert throttled <= 0.02, (start, throttled)
        rates = result.rates_in(start + 0.5, end)
        assert 0.8 * limit <= min(rates) and max(rates) <= 1.7 * limit, (start, rates)
    assert result.calls_failed == 0
    # The drop is met within half a second, at the cost of a few dozen throttled replies.
    assert result.rates_in(10.5, 10.55)[0] <= 1.0 * 80.0
    _, throttled_at_drop = result.window(10.0, 11.0)
    assert throttled_at_drop <= 60


def test_a_light_load_is_left_alone() -> None:
    # Two workers with a 50 ms round trip want 40/s at most, far under the limit: nothing is
    # throttled and the rate does not run away (about twice what is used, at most).
    c = RateController(now=0.0)
    result = simulate(c, steps((0.0, 500.0)), seconds=10.0, workers=2, rtt=0.05)
    ok, bad = result.window(0.0, 10.0)
    assert bad == 0 and ok >= 350
    assert max(result.rates_in(2.0, 10.0)) <= 2.5 * 40
