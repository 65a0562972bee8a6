"""The botocore internals this package reads, checked against the installed botocore.

botocore keeps parts of its refresh and rate-limiting machinery private, and two modules read them
rather than re-implement botocore's rules:

* ``aioglue_session/credentials.py`` reads ``RefreshableCredentials._refresh_lock``,
  ``._protected_refresh``, ``._expiry_time``, ``._seconds_remaining``,
  ``._advisory_refresh_timeout`` and ``._mandatory_refresh_timeout``;
* ``aioglue_session/retries.py`` reads ``botocore.retries.adaptive.ClientRateLimiter._enabled``.

Private names can change in any botocore release. These tests build real botocore objects and
check each name exists with the type and behaviour the package relies on; when one fails, its
message names the attribute and the module to update.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

import botocore
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.credentials import RefreshableCredentials
from botocore.retries import adaptive, bucket, standard, throttling

from aioglue_session.credentials import CredentialCache
from aioglue_session.errors import ThrottlingException
from aioglue_session.retries import AdaptiveLimiter

CREDENTIALS_PY = "aioglue_session/credentials.py"
RETRIES_PY = "aioglue_session/retries.py"


def broken(attribute: str, module: str, detail: str) -> NoReturn:
    pytest.fail(
        f"botocore {botocore.__version__} changed {attribute}, which {module} relies on: "
        f"{detail}. Update {module} for this botocore (or bound botocore's version in "
        "pyproject.toml until it is).",
        pytrace=False,
    )


def private(obj: object, name: str, module: str) -> Any:
    """``getattr(obj, name)``, failing with a message that names the attribute and module."""
    owner = type(obj).__name__
    try:
        return getattr(obj, name)
    except AttributeError:
        broken(f"{owner}.{name}", module, "the attribute no longer exists")


@contextmanager
def reads(owner: str, module: str) -> Iterator[None]:
    """Package code that reads ``owner``'s privates: an ``AttributeError`` names what broke."""
    try:
        yield
    except AttributeError as exc:
        broken(f"{owner}.{exc.name}", module, str(exc))


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(key: str, expires_in: float) -> dict[str, str]:
    expiry = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    return {
        "access_key": key,
        "secret_key": f"secret-{key}",
        "token": f"token-{key}",
        "expiry_time": iso(expiry),
    }


class Refresher:
    """A refresh function for ``RefreshableCredentials``: new keys valid for an hour, or a
    failure, counting its calls."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("refresh failed")
        return metadata(f"AKIDREFRESHED{self.calls:07d}", 3600)


def refreshable(
    expires_in: float, refresh: Callable[[], dict[str, str]], **timeouts: float
) -> RefreshableCredentials:
    return RefreshableCredentials.create_from_metadata(
        metadata("AKIDORIGINAL00000000", expires_in),
        refresh_using=refresh,
        method="contract-test",
        **timeouts,
    )


# --- RefreshableCredentials (credentials.py) -----------------------------------------------------


def test_refresh_lock_is_a_lock() -> None:
    creds = refreshable(3600, Refresher())
    lock = private(creds, "_refresh_lock", CREDENTIALS_PY)
    if not (hasattr(lock, "__enter__") and hasattr(lock, "__exit__")):
        broken(
            "RefreshableCredentials._refresh_lock",
            CREDENTIALS_PY,
            f"it is a {type(lock).__name__}, not usable in a 'with' statement",
        )
    with lock:
        # A plain (non-reentrant) lock is held here: another thread cannot take it.
        taken: list[bool] = []
        other = threading.Thread(target=lambda: taken.append(lock.acquire(False)))
        other.start()
        other.join()
        if taken != [False]:
            broken(
                "RefreshableCredentials._refresh_lock",
                CREDENTIALS_PY,
                "holding it no longer keeps another thread from refreshing",
            )


def test_expiry_time_and_seconds_remaining() -> None:
    creds = refreshable(3600, Refresher())
    expiry = private(creds, "_expiry_time", CREDENTIALS_PY)
    if not isinstance(expiry, datetime) or expiry.tzinfo is None:
        broken(
            "RefreshableCredentials._expiry_time",
            CREDENTIALS_PY,
            f"expected an aware datetime, got {expiry!r}",
        )
    seconds_remaining = private(creds, "_seconds_remaining", CREDENTIALS_PY)
    if not callable(seconds_remaining):
        broken("RefreshableCredentials._seconds_remaining", CREDENTIALS_PY, "not callable")
    remaining = seconds_remaining()
    if not is_number(remaining) or not 3500 < remaining <= 3600:
        broken(
            "RefreshableCredentials._seconds_remaining()",
            CREDENTIALS_PY,
            f"expected the seconds until expiry (~3600) as a number, got {remaining!r}",
        )


def test_refresh_timeouts_are_seconds_advisory_before_mandatory() -> None:
    creds = refreshable(3600, Refresher())
    advisory = private(creds, "_advisory_refresh_timeout", CREDENTIALS_PY)
    mandatory = private(creds, "_mandatory_refresh_timeout", CREDENTIALS_PY)
    if not (is_number(advisory) and is_number(mandatory) and advisory >= mandatory > 0):
        broken(
            "RefreshableCredentials._advisory_refresh_timeout / _mandatory_refresh_timeout",
            CREDENTIALS_PY,
            f"expected seconds with advisory >= mandatory > 0, got {advisory!r} / {mandatory!r}",
        )
    # Per-instance timeouts (as botocore's providers pass them) land in the same attributes.
    custom = refreshable(3600, Refresher(), advisory_timeout=120, mandatory_timeout=60)
    got = (
        private(custom, "_advisory_refresh_timeout", CREDENTIALS_PY),
        private(custom, "_mandatory_refresh_timeout", CREDENTIALS_PY),
    )
    if got != (120, 60):
        broken(
            "RefreshableCredentials._advisory_refresh_timeout / _mandatory_refresh_timeout",
            CREDENTIALS_PY,
            f"create_from_metadata(advisory_timeout=120, mandatory_timeout=60) gave {got!r}",
        )


def test_protected_refresh_mandatory_fetches_and_publishes() -> None:
    refresh = Refresher()
    creds = refreshable(3600, refresh)
    protected_refresh = private(creds, "_protected_refresh", CREDENTIALS_PY)
    with private(creds, "_refresh_lock", CREDENTIALS_PY):
        try:
            protected_refresh(is_mandatory=True)
        except TypeError as exc:
            broken(
                "RefreshableCredentials._protected_refresh",
                CREDENTIALS_PY,
                f"it no longer takes is_mandatory= ({exc})",
            )
    frozen = creds.get_frozen_credentials()
    if refresh.calls != 1 or frozen.access_key != "AKIDREFRESHED0000001":
        broken(
            "RefreshableCredentials._protected_refresh",
            CREDENTIALS_PY,
            f"a forced refresh made {refresh.calls} refresh calls and left access key "
            f"{frozen.access_key!r}; expected one call and the new key",
        )
    remaining = private(creds, "_seconds_remaining", CREDENTIALS_PY)()
    if not 3500 < remaining <= 3600:
        broken(
            "RefreshableCredentials._protected_refresh",
            CREDENTIALS_PY,
            f"the new expiry was not published (seconds remaining: {remaining!r})",
        )


def test_protected_refresh_raises_when_mandatory_and_keeps_keys_when_advisory() -> None:
    creds = refreshable(3600, Refresher(fail=True))
    protected_refresh = private(creds, "_protected_refresh", CREDENTIALS_PY)
    with private(creds, "_refresh_lock", CREDENTIALS_PY):
        with pytest.raises(RuntimeError, match="refresh failed"):
            protected_refresh(is_mandatory=True)
        protected_refresh(is_mandatory=False)  # botocore logs it and keeps the old keys
    if creds.get_frozen_credentials().access_key != "AKIDORIGINAL00000000":
        broken(
            "RefreshableCredentials._protected_refresh",
            CREDENTIALS_PY,
            "a failed refresh no longer leaves the current keys in place",
        )


@pytest.mark.parametrize(
    ("expires_in", "mandatory"),
    [(700, False), (300, True)],
    ids=["advisory-window", "mandatory-window"],
)
def test_frozen_credentials_follow_the_refresh_windows(expires_in: int, mandatory: bool) -> None:
    # credentials.py computes its own deadlines from the two timeouts and leaves the refresh
    # itself to get_frozen_credentials(); these are botocore's rules it counts on (defaults:
    # advisory 15 minutes before expiry, mandatory 10).
    creds = refreshable(
        expires_in, Refresher(fail=True), advisory_timeout=900, mandatory_timeout=600
    )
    if mandatory:
        with pytest.raises(RuntimeError, match="refresh failed"):
            creds.get_frozen_credentials()
    else:
        assert creds.get_frozen_credentials().access_key == "AKIDORIGINAL00000000"


async def test_credential_cache_over_real_botocore_credentials() -> None:
    """End to end: the cache's windows and forced refresh over a real ``RefreshableCredentials``."""
    refresh = Refresher()
    creds = refreshable(3600, refresh, advisory_timeout=900, mandatory_timeout=600)
    start = 1_000_000.0
    now = [start]
    cache = CredentialCache(creds, clock=lambda: now[0])
    with reads("RefreshableCredentials", CREDENTIALS_PY):
        frozen = await cache.get()
    assert frozen.access_key == "AKIDORIGINAL00000000"
    # Signing needs no refresh until botocore's advisory window (900 s before expiry) opens.
    now[0] = start + 3600 - 900 - 60
    assert cache.current() is frozen
    now[0] = start + 3600 - 900 + 60
    assert cache.current() is None
    assert refresh.calls == 0
    with reads("RefreshableCredentials", CREDENTIALS_PY):
        forced = await cache.force_refresh()
    assert refresh.calls == 1
    assert forced.access_key == "AKIDREFRESHED0000001"


# --- ClientRateLimiter (retries.py) --------------------------------------------------------------


class FakeClock(bucket.Clock):
    def __init__(self) -> None:
        self.now = 100.0

    def current_time(self) -> float:
        return self.now

    def sleep(self, amount: float) -> None:
        self.now += amount


def needs_retry(status: int, code: str | None) -> dict[str, Any]:
    """The keyword arguments of botocore's ``needs-retry`` event for one reply."""
    parsed: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if code is not None:
        parsed["Error"] = {"Code": code, "Message": ""}
    return {
        "response": (AWSResponse("", status, HTTPHeaders(), None), parsed),
        "attempts": 1,
        "operation": None,
        "caught_exception": None,
        "request_dict": {"context": {}},
    }


def rate_limiter(clock: FakeClock) -> adaptive.ClientRateLimiter:
    # Built exactly as retries.AdaptiveLimiter builds it.
    try:
        return adaptive.ClientRateLimiter(
            rate_adjustor=throttling.CubicCalculator(
                starting_max_rate=0, start_time=clock.current_time()
            ),
            rate_clocker=adaptive.RateClocker(clock),
            token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
            throttling_detector=standard.ThrottlingErrorDetector(
                retry_event_adapter=standard.RetryEventAdapter()
            ),
            clock=clock,
        )
    except TypeError as exc:
        broken("botocore.retries.adaptive.ClientRateLimiter(...)", RETRIES_PY, str(exc))


def test_rate_limiter_enabled_flag_flips_on_a_throttle() -> None:
    clock = FakeClock()
    limiter = rate_limiter(clock)
    enabled = private(limiter, "_enabled", RETRIES_PY)
    if enabled is not False:
        broken(
            "ClientRateLimiter._enabled",
            RETRIES_PY,
            f"expected False before any throttle, got {enabled!r}",
        )
    limiter.on_receiving_response(**needs_retry(200, None))
    clock.now += 0.1
    if private(limiter, "_enabled", RETRIES_PY) is not False:
        broken("ClientRateLimiter._enabled", RETRIES_PY, "a success turned rate limiting on")
    limiter.on_receiving_response(**needs_retry(400, "ThrottlingException"))
    if private(limiter, "_enabled", RETRIES_PY) is not True:
        broken(
            "ClientRateLimiter._enabled",
            RETRIES_PY,
            "a ThrottlingException reply no longer sets it to True",
        )


def test_adaptive_limiter_turns_on_after_a_throttle() -> None:
    """The package's wrapper over the same flag, fed the way the retry loop feeds it."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(clock=clock.current_time)
    throttle = ThrottlingException(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
    )
    with reads("ClientRateLimiter", RETRIES_PY):
        assert limiter.enabled is False
        limiter.record(1, None)
        assert limiter.enabled is False
        limiter.record(1, throttle)
        turned_on = limiter.enabled
    if not turned_on:
        broken(
            "ClientRateLimiter._enabled",
            RETRIES_PY,
            "AdaptiveLimiter.record() of a throttle did not turn rate limiting on",
        )
