"""Every setting of a client, validated once and resolved the way boto3 resolves it.

The user-facing pieces (:class:`RetryConfig`, :class:`Timeouts`) and the resolution of what the
user left out (region, endpoint, CA bundle, retry mode and attempts) live here, with one rule per
setting: a bad retry mode or attempt count is the same error whether it came from the code, the
environment or a profile. Resolution reads configuration files, so :func:`resolve_settings` is
blocking and the client runs it in a worker thread. The real work is botocore's: its config store
and profile loader, its configured-endpoint chain (``AWS_ENDPOINT_URL_GLUE``, ``AWS_ENDPOINT_URL``,
the profile's ``services`` section and ``endpoint_url``) and Glue's endpoint rule set with the
partition data.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import botocore.session
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.endpoint_provider import EndpointProvider
from botocore.exceptions import NoRegionError
from botocore.utils import ensure_boolean, validate_region_name

from .errors import InvalidMaxRetryAttemptsError, InvalidRetryModeError

__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "RetryConfig",
    "RetryMode",
    "Settings",
    "Timeouts",
    "check_endpoint_url",
    "check_max_attempts",
    "check_retry_mode",
    "resolve_endpoint",
    "resolve_region",
    "resolve_settings",
]

SERVICE = "glue"
RetryMode = Literal["standard", "adaptive"]
RETRY_MODES: tuple[RetryMode, ...] = ("standard", "adaptive")
DEFAULT_MAX_ATTEMPTS = 3

#: Replies larger than this are refused without being read whole (see ``GlueSessionClient``).
DEFAULT_MAX_REPLY_BYTES = 10 * 1024 * 1024


# --- the one rule per setting ---------------------------------------------------------------------


def check_retry_mode(value: object) -> RetryMode:
    """``"standard"`` or ``"adaptive"``; anything else (botocore's ``"legacy"`` included, which
    this client does not implement) is :class:`~aioglue_session.errors.InvalidRetryModeError`."""
    if value == "standard" or value == "adaptive":
        return value
    raise InvalidRetryModeError(provided_retry_mode=str(value), valid_modes=RETRY_MODES)


def check_max_attempts(value: object) -> int:
    """An int >= 1 (it counts the first try), or a string of one from the environment or a
    profile; anything else is :class:`~aioglue_session.errors.InvalidMaxRetryAttemptsError`."""
    attempts: object = value
    if isinstance(value, str):
        try:
            attempts = int(value.strip())
        except ValueError:
            attempts = None
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
        return attempts
    raise InvalidMaxRetryAttemptsError(provided_max_attempts=value, min_value=1)  # type: ignore[arg-type]


def check_endpoint_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"endpoint_url must be an absolute http:// or https:// URL, not {str(url)[:100]!r}"
        )
    return url


def _check_int_attempts(value: object) -> int:
    # From code, an int: "3" is a type error here even though AWS_MAX_ATTEMPTS="3" is fine.
    return check_max_attempts(None if isinstance(value, str) else value)


def _optional(check: Any) -> Any:
    """An attrs validator running ``check`` on a value that is not ``None``."""

    def validate(_: Any, __: Any, value: Any) -> None:
        if value is not None:
            check(value)

    return validate


def _check_seconds(_: Any, attr: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"Timeouts.{attr.name} must be a positive number of seconds or None")


# --- what users pass ------------------------------------------------------------------------------


@attrs.frozen
class RetryConfig:
    """How calls are retried, with botocore's semantics.

    Args:
        mode: ``"standard"`` or ``"adaptive"`` (standard plus botocore's client-side rate
            limiter). ``None`` takes ``AWS_RETRY_MODE`` / the profile's ``retry_mode``, else
            ``"standard"``. Any other value raises ``InvalidRetryModeError``, as boto3 does.
        max_attempts: attempts per call, counting the first try. ``None`` takes
            ``AWS_MAX_ATTEMPTS`` / the profile's ``max_attempts``, else 3. A value below 1 raises
            ``InvalidMaxRetryAttemptsError``, as boto3 does.
    """

    mode: RetryMode | None = attrs.field(default="standard", validator=_optional(check_retry_mode))
    max_attempts: int | None = attrs.field(default=None, validator=_optional(_check_int_attempts))


@attrs.frozen
class Timeouts:
    """Timeouts in seconds (``None``: no limit).

    Args:
        connect: to open a connection, per attempt (boto3's ``connect_timeout``).
        read: between two reads of the reply, per attempt (boto3's ``read_timeout``).
        total: one call across all its attempts and backoff sleeps (no sleep starts that would
            end past it). boto3 has no equivalent.
    """

    connect: float | None = attrs.field(default=60.0, validator=_check_seconds)
    read: float | None = attrs.field(default=60.0, validator=_check_seconds)
    total: float | None = attrs.field(default=None, validator=_check_seconds)


# --- what a client resolves ----------------------------------------------------------------------


@attrs.frozen
class Settings:
    """Everything a client resolved when it opened."""

    region: str
    endpoint_url: str
    #: ``True`` (the default trust store), or a CA bundle path (``AWS_CA_BUNDLE``, ``ca_bundle``).
    verify: bool | str
    retry_mode: RetryMode
    max_attempts: int


_providers: dict[int, EndpointProvider] = {}


def _endpoint_provider(session: botocore.session.Session) -> EndpointProvider:
    loader = session.get_component("data_loader")
    key = id(loader)
    provider = _providers.get(key)
    if provider is None:
        ruleset = loader.load_service_model(SERVICE, "endpoint-rule-set-1")
        partitions = loader.load_data("partitions")
        provider = EndpointProvider(ruleset_data=ruleset, partition_data=partitions)
        _providers[key] = provider
    return provider


def _flag(session: botocore.session.Session, name: str) -> bool:
    value = session.get_config_variable(name)
    return bool(ensure_boolean(value)) if value is not None else False


def resolve_endpoint(session: botocore.session.Session, region: str) -> str:
    """Glue's rule-set endpoint for ``region`` with the session's FIPS / dual-stack settings."""
    endpoint = _endpoint_provider(session).resolve_endpoint(
        Region=region,
        UseFIPS=_flag(session, "use_fips_endpoint"),
        UseDualStack=_flag(session, "use_dualstack_endpoint"),
    )
    return str(endpoint.url)


def resolve_region(session: botocore.session.Session, region: str | None) -> str:
    if region is None:
        region = os.environ.get("AWS_REGION") or session.get_config_variable("region")
    if not region:
        raise NoRegionError()
    validate_region_name(region)
    return str(region)


def _configured_endpoint(session: botocore.session.Session) -> str | None:
    if _flag(session, "ignore_configured_endpoint_urls"):
        return None
    provider = ConfiguredEndpointProvider(
        full_config=session.full_config,
        scoped_config=session.get_scoped_config(),
        client_name=SERVICE,
    )
    value: Any = provider.provide()
    return str(value) if value else None


def resolve_retry(
    session: botocore.session.Session, retry: RetryConfig | None
) -> tuple[RetryMode, int]:
    """The retry mode and attempts: the argument, else the environment / profile, else the
    defaults, each through the same check."""
    scoped = session.get_scoped_config()
    mode: object = retry.mode if retry is not None else None
    if mode is None:
        mode = os.environ.get("AWS_RETRY_MODE") or scoped.get("retry_mode") or "standard"
    attempts: object = retry.max_attempts if retry is not None else None
    if attempts is None:
        attempts = os.environ.get("AWS_MAX_ATTEMPTS") or scoped.get("max_attempts")
    return (
        check_retry_mode(mode),
        DEFAULT_MAX_ATTEMPTS if attempts is None else check_max_attempts(attempts),
    )


def resolve_settings(
    session: botocore.session.Session,
    *,
    region: str | None,
    endpoint_url: str | None,
    retry: RetryConfig | None,
) -> Settings:
    """Blocking (reads config files): call in a worker thread."""
    resolved_region = resolve_region(session, region)
    url = endpoint_url or _configured_endpoint(session)
    if url is None:
        url = resolve_endpoint(session, resolved_region)
    check_endpoint_url(url)
    ca_bundle = session.get_config_variable("ca_bundle")
    mode, attempts = resolve_retry(session, retry)
    return Settings(
        region=resolved_region,
        endpoint_url=url,
        verify=str(ca_bundle) if ca_bundle else True,
        retry_mode=mode,
        max_attempts=attempts,
    )
