"""Every botocore interface this package uses, checked against the installed botocore.

CI runs these at both ends of the supported range: the floor (``botocore==1.34.0``, installed with
``--resolution lowest-direct``) and the newest release. Three kinds of check:

* **The inventory.** ``test_every_botocore_name_the_package_uses_is_pinned`` reads the package's
  source and lists each botocore module and name it imports or reaches by attribute; the list must
  equal ``PINNED`` below, so a new use of botocore fails here until it is pinned (and checked).
  Each pinned name must exist in the installed botocore.
* **Call shapes.** Each botocore callable is bound (``inspect.signature(...).bind``) with the
  arguments the package passes, and each botocore exception the package raises is built with its
  keyword arguments and formatted, as the package does.
* **Private parts** botocore keeps for itself, which two modules read rather than re-implement:

  * ``aioglue_session/credentials.py`` reads ``RefreshableCredentials._refresh_lock``,
    ``._protected_refresh``, ``._expiry_time``, ``._seconds_remaining``,
    ``._advisory_refresh_timeout`` and ``._mandatory_refresh_timeout``;
  * ``aioglue_session/retries.py`` reads ``botocore.retries.adaptive.ClientRateLimiter._enabled``;
  * ``aioglue_session/signing.py`` overrides ``SigV4Auth._sign`` and calls
    ``._modify_request_before_signing``, reading ``._region_name`` and ``._service_name``;
  * ``aioglue_session/config_session.py`` reads ``botocore._INITIALIZERS``.

  Private names can change in any botocore release. These tests build real botocore objects and
  check each name exists with the type and behaviour the package relies on; when one fails, its
  message names the attribute and the module to update.

Where botocore's interface differs across the range, the package feature-detects it (noted at
each check): ``RetryQuotaChecker`` takes a throttling detector only in newer botocores,
``ExponentialBackoff`` a service name and throttling detector, and
``ThrottlingErrorDetector.is_throttling_error_from_context`` is newer than 1.34.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn

import botocore
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse, HTTPHeaders
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.retries import adaptive, bucket, quota, standard, throttling

from aioglue_session import errors
from aioglue_session.credentials import CredentialCache
from aioglue_session.errors import ThrottlingException
from aioglue_session.retries import AdaptiveLimiter, ContextAdapter, _backoff, _quota_checker
from aioglue_session.signing import GlueSigner

CREDENTIALS_PY = "aioglue_session/credentials.py"
RETRIES_PY = "aioglue_session/retries.py"
SETTINGS_PY = "aioglue_session/settings.py"
CONFIG_SESSION_PY = "aioglue_session/config_session.py"
TRANSPORT_PY = "aioglue_session/transport.py"


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


# --- the inventory: every botocore name the package uses -----------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "aioglue_session"

#: Every botocore module the package imports (name ``None``) and every name it takes from one (by
#: import, or as ``module.name``), private names read with ``getattr`` included.
PINNED: frozenset[tuple[str, str | None]] = frozenset(
    {
        ("botocore", None),
        ("botocore", "__version__"),
        ("botocore", "exceptions"),
        ("botocore", "session"),
        ("botocore", "_INITIALIZERS"),  # config_session.py, with getattr(..., ())
        ("botocore.auth", "SigV4Auth"),
        ("botocore.awsrequest", "AWSRequest"),
        ("botocore.awsrequest", "AWSResponse"),
        ("botocore.awsrequest", "HTTPHeaders"),
        ("botocore.client", "ClientEndpointBridge"),
        ("botocore.config", "Config"),
        ("botocore.configloader", "load_config"),
        ("botocore.configloader", "raw_config_parse"),
        ("botocore.configprovider", "ConfigValueStore"),
        ("botocore.configprovider", "ConfiguredEndpointProvider"),
        ("botocore.configprovider", "create_botocore_default_config_mapping"),
        ("botocore.credentials", "Credentials"),
        ("botocore.credentials", "ReadOnlyCredentials"),
        ("botocore.endpoint_provider", "EndpointProvider"),
        ("botocore.exceptions", None),
        *(
            ("botocore.exceptions", name)
            for name in (
                "BotoCoreError",
                "CapacityNotAvailableError",
                "ClientError",
                "ConfigNotFound",
                "ConnectTimeoutError",
                "ConnectionClosedError",
                "CredentialRetrievalError",
                "EndpointConnectionError",
                "HTTPClientError",
                "InvalidConfigError",
                "InvalidMaxRetryAttemptsError",
                "InvalidRegionError",
                "InvalidRetryModeError",
                "NoCredentialsError",
                "NoRegionError",
                "ParamValidationError",
                "PartialCredentialsError",
                "ProfileNotFound",
                "ProxyConnectionError",
                "ReadTimeoutError",
                "SSLError",
            )
        ),
        ("botocore.httpsession", "where"),
        ("botocore.loaders", "JSONFileLoader"),
        ("botocore.loaders", "create_loader"),
        ("botocore.regions", "EndpointResolver"),
        *(
            ("botocore.retries", name)
            for name in ("adaptive", "bucket", "quota", "standard", "throttling")
        ),
        ("botocore.retries.adaptive", "ClientRateLimiter"),
        ("botocore.retries.adaptive", "RateClocker"),
        ("botocore.retries.bucket", "Clock"),
        ("botocore.retries.bucket", "TokenBucket"),
        ("botocore.retries.quota", "RetryQuota"),
        *(
            ("botocore.retries.standard", name)
            for name in (
                "BaseRetryableChecker",
                "ExponentialBackoff",
                "MaxAttemptsChecker",
                "ModeledRetryableChecker",
                "OrRetryChecker",
                "RetryContext",
                "RetryEventAdapter",
                "RetryPolicy",
                "RetryQuotaChecker",
                "ThrottledRetryableChecker",
                "ThrottlingErrorDetector",
                "TransientRetryableChecker",
            )
        ),
        ("botocore.retries.throttling", "CubicCalculator"),
        ("botocore.session", None),
        ("botocore.session", "Session"),
        ("botocore.session", "get_session"),
        ("botocore.utils", "ensure_boolean"),
        ("botocore.utils", "get_environ_proxies"),
        ("botocore.utils", "is_valid_endpoint_url"),
        ("botocore.utils", "is_valid_ipv6_endpoint_url"),
        ("botocore.utils", "validate_region_name"),
    }
)


def package_botocore_names() -> set[tuple[str, str | None]]:
    """What the package's source takes from botocore: ``import botocore.x`` as ``(x, None)``,
    ``from botocore.x import y`` and ``botocore.x.y`` (or ``y.z`` through an imported module)
    as ``(x, y)``, and ``getattr(botocore, "name", ...)`` as ``("botocore", name)``."""
    found: set[tuple[str, str | None]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):  # (subpackages too: cli/)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: dict[str, str] = {}  # local name -> botocore module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "botocore":
                        found.add((alias.name, None))
                        modules[alias.asname or alias.name.split(".")[0]] = (
                            alias.name if alias.asname else "botocore"
                        )
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore"):
                module = str(node.module)
                for alias in node.names:
                    found.add((module, alias.name))
                    if alias.name[:1].islower():  # a submodule (botocore.retries.standard)
                        modules[alias.asname or alias.name] = f"{module}.{alias.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                parts: list[str] = []
                inner: ast.expr = node
                while isinstance(inner, ast.Attribute):
                    parts.append(inner.attr)
                    inner = inner.value
                if not isinstance(inner, ast.Name) or inner.id not in modules:
                    continue
                dotted = [*modules[inner.id].split("."), *reversed(parts)]
                # The longest prefix that is a module the file imported, then the name after it.
                known = {*modules.values(), *(m for m, n in found if n is None)}
                for cut in range(len(dotted) - 1, 0, -1):
                    if ".".join(dotted[:cut]) in known:
                        found.add((".".join(dotted[:cut]), dotted[cut]))
                        break
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name)
                and modules.get(node.args[0].id) == "botocore"
                and isinstance(node.args[1], ast.Constant)
            ):
                found.add(("botocore", str(node.args[1].value)))
    return found


def test_every_botocore_name_the_package_uses_is_pinned() -> None:
    used = package_botocore_names()
    unpinned = sorted(used - PINNED, key=str)
    stale = sorted(PINNED - used, key=str)
    assert not unpinned, (
        f"the package now uses {unpinned} from botocore: pin them in PINNED and check their "
        "shape below (CI runs this file at botocore's floor and newest)"
    )
    assert not stale, f"PINNED lists {stale}, which the package no longer uses: unpin them"


@pytest.mark.parametrize(
    ("module", "name"), sorted(PINNED, key=str), ids=lambda v: str(v) if v else "module"
)
def test_each_pinned_name_exists(module: str, name: str | None) -> None:
    if name == "_INITIALIZERS":  # read with a default: absent is the same as empty
        return
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        broken(module, "aioglue_session", f"the module no longer imports ({exc})")
    if name is not None and not hasattr(imported, name):
        try:
            importlib.import_module(f"{module}.{name}")
        except ImportError:
            broken(f"{module}.{name}", "aioglue_session", "the name no longer exists")


# --- call shapes: the arguments the package passes ------------------------------------------------

A = object()  # any argument


def callable_at(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    obj: Any = importlib.import_module(module)
    return getattr(obj, name)


#: botocore callables, with the arguments the package passes them (file it does it in).
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    (
        "botocore.retries.standard.RetryContext",
        (1,),
        {"parsed_response": A, "http_response": A, "request_context": A},
        RETRIES_PY,
    ),
    (
        "botocore.retries.standard.RetryContext",
        (1,),
        {"caught_exception": A, "request_context": A},
        RETRIES_PY,
    ),
    ("botocore.retries.standard.RetryQuotaChecker", (A,), {}, RETRIES_PY),
    (
        "botocore.retries.standard.ExponentialBackoff",
        (),
        {"max_backoff": 20, "random": A},
        RETRIES_PY,
    ),
    (
        "botocore.retries.standard.ThrottlingErrorDetector",
        (),
        {"retry_event_adapter": A},
        RETRIES_PY,
    ),
    (
        "botocore.retries.standard.RetryPolicy",
        (),
        {"retry_checker": A, "retry_backoff": A},
        RETRIES_PY,
    ),
    ("botocore.retries.standard.MaxAttemptsChecker", (3,), {}, RETRIES_PY),
    ("botocore.retries.standard.OrRetryChecker", ([],), {}, RETRIES_PY),
    ("botocore.retries.standard.TransientRetryableChecker", (), {}, RETRIES_PY),
    ("botocore.retries.standard.ThrottledRetryableChecker", (), {}, RETRIES_PY),
    ("botocore.retries.standard.ModeledRetryableChecker", (), {}, RETRIES_PY),
    ("botocore.retries.standard.RetryEventAdapter", (), {}, RETRIES_PY),
    ("botocore.retries.quota.RetryQuota", (), {}, RETRIES_PY),
    ("botocore.retries.bucket.TokenBucket", (), {"max_rate": 1, "clock": A}, RETRIES_PY),
    ("botocore.retries.adaptive.RateClocker", (A,), {}, RETRIES_PY),
    (
        "botocore.retries.throttling.CubicCalculator",
        (),
        {"starting_max_rate": 0, "start_time": 0.0},
        RETRIES_PY,
    ),
    ("botocore.awsrequest.AWSResponse", ("", 200, A, None), {}, RETRIES_PY),
    (
        "botocore.awsrequest.AWSRequest",
        (),
        {"method": "POST", "url": A, "data": b"", "headers": A},
        "aioglue_session/signing.py",
    ),
    ("botocore.auth.SigV4Auth", (A, "glue", "us-east-1"), {}, "aioglue_session/signing.py"),
    (
        "botocore.client.ClientEndpointBridge",
        (A,),
        {
            "scoped_config": A,
            "client_config": A,
            "config_store": A,
            "service_signature_version": "v4",
        },
        SETTINGS_PY,
    ),
    ("botocore.regions.EndpointResolver", (A,), {"uses_builtin_data": True}, SETTINGS_PY),
    (
        "botocore.endpoint_provider.EndpointProvider",
        (),
        {"ruleset_data": A, "partition_data": A},
        SETTINGS_PY,
    ),
    ("botocore.config.Config", (), {"use_fips_endpoint": True}, SETTINGS_PY),
    (
        "botocore.configprovider.ConfiguredEndpointProvider",
        (),
        {"full_config": A, "scoped_config": A, "client_name": "glue"},
        SETTINGS_PY,
    ),
    ("botocore.configprovider.ConfigValueStore", (), {"mapping": A}, CONFIG_SESSION_PY),
    ("botocore.configprovider.create_botocore_default_config_mapping", (A,), {}, CONFIG_SESSION_PY),
    ("botocore.configloader.load_config", (A,), {}, CONFIG_SESSION_PY),
    ("botocore.configloader.raw_config_parse", (A,), {}, CONFIG_SESSION_PY),
    ("botocore.loaders.create_loader", (A,), {}, CONFIG_SESSION_PY),
    ("botocore.utils.ensure_boolean", (A,), {}, SETTINGS_PY),
    ("botocore.utils.get_environ_proxies", (A,), {}, SETTINGS_PY),
    ("botocore.utils.is_valid_endpoint_url", (A,), {}, SETTINGS_PY),
    ("botocore.utils.is_valid_ipv6_endpoint_url", (A,), {}, SETTINGS_PY),
    ("botocore.utils.validate_region_name", (A,), {}, SETTINGS_PY),
    ("botocore.httpsession.where", (), {}, SETTINGS_PY),
    ("botocore.session.Session", (), {"profile": A, "include_builtin_handlers": True}, SETTINGS_PY),
    ("botocore.session.get_session", (), {}, "aioglue_session/testing.py"),
    ("botocore.credentials.Credentials", (A, A, A), {}, CREDENTIALS_PY),
    ("botocore.credentials.ReadOnlyCredentials", (A, A, A), {}, CREDENTIALS_PY),
]


@pytest.mark.parametrize(
    ("dotted", "args", "kwargs", "module"), CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)]
)
def test_call_shapes(
    dotted: str, args: tuple[Any, ...], kwargs: dict[str, Any], module: str
) -> None:
    target = callable_at(dotted)
    try:
        inspect.signature(target).bind(*args, **kwargs)
    except TypeError as exc:
        broken(dotted, module, f"it no longer takes {list(kwargs) or len(args)} ({exc})")


#: The methods and attributes the package reads on botocore objects: (object, name, module).
def botocore_members() -> list[tuple[str, object, str, str]]:
    signer = SigV4Auth(Credentials("AKID", "secret"), "glue", "us-east-1")
    limiter = rate_limiter(FakeClock())
    context = standard.RetryContext(1, parsed_response={}, http_response=None)
    retry_quota = quota.RetryQuota()
    members: list[tuple[str, object, str, str]] = [
        ("SigV4Auth", signer, name, "aioglue_session/signing.py")
        for name in (
            "canonical_request",
            "credential_scope",
            "signed_headers",
            "headers_to_sign",
            "_modify_request_before_signing",
            "_sign",
            "_region_name",
            "_service_name",
            "credentials",
        )
    ]
    members += [
        ("RetryContext", context, name, RETRIES_PY)
        for name in ("caught_exception", "request_context", "add_retry_metadata")
    ]
    members += [
        ("RetryQuota", retry_quota, name, RETRIES_PY)
        for name in ("available_capacity", "acquire", "release")
    ]
    members += [
        ("RetryQuotaChecker", standard.RetryQuotaChecker(retry_quota), name, RETRIES_PY)
        for name in ("acquire_retry_quota", "release_retry_quota")
    ]
    members += [
        ("RetryPolicy", standard.RetryPolicy(None, None), name, RETRIES_PY)
        for name in ("should_retry", "compute_retry_delay")
    ]
    members += [
        ("RetryEventAdapter", standard.RetryEventAdapter(), name, RETRIES_PY)
        for name in ("create_retry_context", "adapt_retry_response_from_context")
    ]
    members += [
        ("TokenBucket", bucket.TokenBucket(max_rate=1, clock=FakeClock()), name, RETRIES_PY)
        for name in ("acquire", "available_capacity", "max_rate")
    ]
    members += [("ClientRateLimiter", limiter, "on_receiving_response", RETRIES_PY)]
    members += [("AWSRequest", AWSRequest(method="POST", url="https://h/"), "context", RETRIES_PY)]
    return members


@pytest.mark.parametrize("index", range(len(botocore_members())))
def test_members_the_package_reads(index: int) -> None:
    _owner, obj, name, module = botocore_members()[index]
    private(obj, name, module)


def test_sign_override_matches_botocores_signature() -> None:
    # signing.py replaces SigV4Auth._sign(key, msg, hex=False) with a one-shot hmac.digest.
    params = list(inspect.signature(SigV4Auth._sign).parameters)
    if params != ["self", "key", "msg", "hex"]:
        broken("SigV4Auth._sign", "aioglue_session/signing.py", f"its parameters are {params}")
    signer = SigV4Auth(Credentials("AKID", "secret"), "glue", "us-east-1")
    theirs = SigV4Auth._sign(signer, b"key", "msg", hex=True)
    assert GlueSigner._sign(signer, b"key", "msg", hex=True) == theirs  # type: ignore[arg-type]


#: botocore exceptions the package raises, with the keyword arguments it passes.
RAISED: list[tuple[str, dict[str, Any], str]] = [
    (
        "ReadTimeoutError",
        {"endpoint_url": "https://h/", "error": "total timeout reached"},
        "aioglue_session/client.py",
    ),
    ("ProfileNotFound", {"profile": "p"}, CONFIG_SESSION_PY),
    (
        "InvalidRetryModeError",
        {"provided_retry_mode": "legacy", "valid_modes": ("standard",)},
        SETTINGS_PY,
    ),
    ("InvalidMaxRetryAttemptsError", {"provided_max_attempts": 0, "min_value": 1}, SETTINGS_PY),
    ("NoRegionError", {}, SETTINGS_PY),
    ("InvalidConfigError", {"error_msg": "bad"}, SETTINGS_PY),
    (
        "PartialCredentialsError",
        {"provider": "explicit", "cred_var": "aws_secret_access_key"},
        SETTINGS_PY,
    ),
    *(
        (
            name,
            {"endpoint_url": "https://h/", "proxy_url": "http://p:1", "error": OSError("x")},
            TRANSPORT_PY,
        )
        for name in (
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "SSLError",
            "ProxyConnectionError",
            "EndpointConnectionError",
            "ConnectionClosedError",
        )
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "module"), RAISED, ids=[r[0] for r in RAISED])
def test_exceptions_the_package_raises_format(
    name: str, kwargs: dict[str, Any], module: str
) -> None:
    kind = getattr(botocore.exceptions, name)
    try:
        message = str(kind(**kwargs))
    except (KeyError, TypeError) as exc:
        broken(f"botocore.exceptions.{name}", module, f"it no longer formats with {kwargs}: {exc}")
    assert message
    assert issubclass(kind, botocore.exceptions.BotoCoreError)


def test_param_validation_error_takes_a_report() -> None:
    # errors.ParamValidationError subclasses it; protocol.py passes the report as one argument.
    err = errors.ParamValidationError("Invalid length for parameter Id")
    assert "Invalid length for parameter Id" in str(err)
    assert isinstance(err, botocore.exceptions.ParamValidationError)


# --- the interfaces that differ across the range, as the package detects them ---------------------


def throttle_context(attempt: int = 1) -> standard.RetryContext:
    return standard.RetryContext(
        attempt,
        parsed_response={"Error": {"Code": "ThrottlingException", "Message": ""}},
        http_response=AWSResponse("", 400, HTTPHeaders(), None),
        request_context={},
    )


def test_throttling_detector_reads_a_context_through_the_event_adapter() -> None:
    # retries.py gives botocore's ThrottlingErrorDetector an adapter whose create_retry_context
    # returns the context it was handed: botocore 1.34 has no is_throttling_error_from_context.
    detector = standard.ThrottlingErrorDetector(retry_event_adapter=ContextAdapter())
    if detector.is_throttling_error(context=throttle_context()) is not True:
        broken(
            "ThrottlingErrorDetector.is_throttling_error",
            RETRIES_PY,
            "it no longer asks its retry_event_adapter for the context",
        )
    ok = standard.RetryContext(1, parsed_response={}, http_response=AWSResponse("", 200, {}, None))
    assert detector.is_throttling_error(context=ok) is False


def test_retry_quota_checker_and_backoff_in_either_shape() -> None:
    # retries.py passes a throttling detector where botocore takes one, and not where it does not.
    detector = standard.ThrottlingErrorDetector(retry_event_adapter=ContextAdapter())
    checker = _quota_checker(quota.RetryQuota(), detector)
    context = throttle_context()
    assert checker.acquire_retry_quota(context) is True
    cost = getattr(standard.RetryQuotaChecker, "_THROTTLING_RETRY_COST", None)
    expected = cost if cost is not None else standard.RetryQuotaChecker._RETRY_COST
    assert context.request_context["retry_quota_capacity"] == expected
    backoff = _backoff(lambda: 1.0, detector)
    assert 0 < backoff.delay_amount(throttle_context(attempt=2)) <= 20
