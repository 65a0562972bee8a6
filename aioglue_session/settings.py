"""Every setting of a client, validated once and resolved the way boto3 resolves it.

The user-facing pieces (``RetryConfig``, ``Timeouts``) and the resolution of what the user
left out (region, endpoint, CA bundle, retry mode and attempts) live here, with one rule per
setting: a bad retry mode or attempt count is the same error whether it came from the code, the
environment or a profile. Resolution reads configuration files, so ``resolve_settings`` is
blocking and the client runs it in a worker thread. The real work is botocore's: its config store
and profile loader, its configured-endpoint chain (``AWS_ENDPOINT_URL_GLUE``, ``AWS_ENDPOINT_URL``,
the profile's ``services`` section and ``endpoint_url``) and Glue's endpoint rule set with the
partition data.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

import attrs
from botocore.exceptions import InvalidConfigError, NoRegionError

from .config_session import ConfigSession, can_replace_session
from .errors import InvalidMaxRetryAttemptsError, InvalidRetryModeError, PartialCredentialsError

if TYPE_CHECKING:
    import botocore.session
    from botocore.endpoint_provider import EndpointProvider

# Only botocore's exceptions are imported with this module: every other piece of botocore used
# here (its config providers, endpoint rules, region data, utilities) is imported inside the
# function that uses it. Those run in the client's start-up thread, so the event loop never
# imports them (the ones every client needs may already be loaded: see _preload).


class ConfigSource(Protocol):
    """What resolving settings reads from a botocore ``Session``: a real one, or a
    ``config_session.ConfigSession`` (the same answers, without ``botocore.session``)."""

    def get_config_variable(self, logical_name: str) -> Any: ...

    def get_scoped_config(self) -> dict[str, Any]: ...

    @property
    def full_config(self) -> dict[str, Any]: ...

    def get_component(self, name: str) -> Any: ...


__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "ClientConfig",
    "ConfigSource",
    "Proxy",
    "ResolvedEndpoint",
    "RetryConfig",
    "RetryMode",
    "Settings",
    "Timeouts",
    "check_endpoint_url",
    "check_max_attempts",
    "check_retry_mode",
    "resolve_endpoint",
    "resolve_proxy",
    "resolve_region",
    "resolve_settings",
    "resolve_verify",
    "tls_context",
]

logger = logging.getLogger(__name__)

SERVICE = "glue"
RetryMode = Literal["standard", "adaptive"]
RETRY_MODES: tuple[RetryMode, ...] = ("standard", "adaptive")
DEFAULT_MAX_ATTEMPTS = 3

#: Replies larger than this are refused without being read whole (see ``GlueSessionClient``).
DEFAULT_MAX_REPLY_BYTES = 10 * 1024 * 1024


# --- the one rule per setting ---------------------------------------------------------------------


def check_retry_mode(value: object) -> RetryMode:
    """``"standard"`` or ``"adaptive"``; anything else (botocore's ``"legacy"`` included, which
    this client does not implement) is ``InvalidRetryModeError``."""
    if value == "standard" or value == "adaptive":
        return value
    raise InvalidRetryModeError(provided_retry_mode=str(value), valid_modes=RETRY_MODES)


def check_max_attempts(value: object) -> int:
    """An int >= 1 (it counts the first try), or a string of one from the environment or a
    profile; anything else is ``InvalidMaxRetryAttemptsError``."""
    attempts: object = value
    if isinstance(value, str):
        try:
            attempts = int(value.strip())
        except ValueError:
            attempts = None
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
        return attempts
    raise InvalidMaxRetryAttemptsError(provided_max_attempts=value, min_value=1)  # type: ignore[arg-type]


def check_endpoint_url(url: str, *, as_botocore: bool = False) -> str:
    """An absolute ``http``/``https`` URL (checked when the client is built); with
    ``as_botocore``, also one that botocore accepts as an endpoint, so a host like ``my_host`` or
    a URL with a stray newline is refused as boto3 refuses it (checked when the client opens,
    for every URL, given or resolved)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"endpoint_url must be an absolute http:// or https:// URL, not {str(url)[:100]!r}"
        )
    if as_botocore:
        from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

        if not is_valid_endpoint_url(url) and not is_valid_ipv6_endpoint_url(url):
            raise ValueError(f"Invalid endpoint: {url[:100]} (botocore refuses it, as boto3 does)")
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
    """How calls are retried, with botocore's semantics (boto3's
    ``Config(retries={"mode": ..., "max_attempts": ...})``).

    A bad value raises here, as boto3 raises it: a mode other than ``"standard"`` or
    ``"adaptive"`` is
    [``InvalidRetryModeError``][aioglue_session.errors.InvalidRetryModeError], an attempt count
    that is not an int of at least 1 is
    [``InvalidMaxRetryAttemptsError``][aioglue_session.errors.InvalidMaxRetryAttemptsError]; both
    are ``ValueError`` too. ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` and a profile's
    ``retry_mode`` / ``max_attempts`` follow the same rule, checked when the client opens.
    """

    mode: RetryMode | None = attrs.field(default="standard", validator=_optional(check_retry_mode))
    """``"standard"`` or ``"adaptive"`` (standard plus botocore's client-side rate limiter).
    ``None`` takes ``AWS_RETRY_MODE`` / the profile's ``retry_mode``, else ``"standard"``.
    botocore's ``"legacy"`` mode is refused."""
    max_attempts: int | None = attrs.field(default=None, validator=_optional(_check_int_attempts))
    """Attempts per call, counting the first try. ``None`` takes ``AWS_MAX_ATTEMPTS`` / the
    profile's ``max_attempts``, else 3."""


@attrs.frozen
class Timeouts:
    """Timeouts in seconds (``None``: no limit). A value that is not a positive number raises
    ``ValueError`` where it is made."""

    connect: float | None = attrs.field(default=60.0, validator=_check_seconds)
    """To open a connection, per attempt (boto3's ``connect_timeout``)."""
    read: float | None = attrs.field(default=60.0, validator=_check_seconds)
    """Without data from the endpoint, per attempt (boto3's ``read_timeout``): from the request
    going out to the reply's headers, then between reads of its body. Checked every tenth of
    it (but not more often than every 10 ms, nor less often than every second), so it fires up
    to that much late."""
    total: float | None = attrs.field(default=None, validator=_check_seconds)
    """One call across all its attempts, its backoff sleeps and its wait for a connection
    slot: no sleep starts that would end past it. boto3 has no equivalent."""


# --- what a client resolves ----------------------------------------------------------------------


@attrs.frozen(repr=False)
class Proxy:
    """The forward proxy a client's requests go through, resolved once when it opens.

    ``url`` has no user info: the credentials are only in ``headers`` (``Proxy-Authorization``),
    and ``display`` is the URL with the password replaced by ``***``, for messages and logs.
    """

    #: ``scheme://host:port``, without user info.
    url: str
    #: ``user:***@`` in place of the credentials: safe to print.
    display: str
    #: ``{"Proxy-Authorization": "Basic ..."}`` when the proxy URL had ``user:password@``.
    headers: Mapping[str, str] = attrs.field(factory=dict, eq=False)

    def __repr__(self) -> str:
        return f"Proxy({self.display!r})"

    @classmethod
    def from_url(cls, proxy_url: str) -> Proxy:
        """A proxy URL as boto3 takes it: ``[http://][user:password@]host[:port]`` (no scheme
        means ``http://``, as botocore assumes); the user info is percent-decoded."""
        if not proxy_url.startswith(("http:", "https:")):
            proxy_url = ("http:" if proxy_url.startswith("//") else "http://") + proxy_url
        parts = urlsplit(proxy_url)
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, has_password, password = userinfo.partition(":")
        display = f"{parts.scheme}://{hostport}"
        if userinfo:
            display = f"{parts.scheme}://{user}{':***' if has_password else ''}@{hostport}"
        try:
            valid = bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            # (Not echoed: a password with an unencoded "/" or "#" would show in it.)
            raise ValueError(
                "not a proxy URL: expected http://[user:password@]host:port, with the user and "
                "password percent-encoded"
            )
        headers: dict[str, str] = {}
        if user and password:
            # As botocore: Basic credentials only when both halves are there, percent-decoded.
            # (UTF-8 where botocore only accepts ASCII.)
            token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
            headers["Proxy-Authorization"] = f"Basic {token}"
        return cls(url=f"{parts.scheme}://{hostport}", display=display, headers=headers)


def resolve_proxy(endpoint_url: str, proxies: Mapping[str, str] | None) -> Proxy | None:
    """The proxy for ``endpoint_url``, or ``None`` to connect directly. Blocking on some
    platforms (reading the system's proxy settings): call it in a worker thread.

    As boto3 (botocore's ``EndpointCreator``): given ``proxies`` (``Config(proxies=...)``), the
    environment is not read at all, ``NO_PROXY`` included; not given, the environment's
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` (either case; lower case wins when both are set) apply unless
    ``NO_PROXY`` names the endpoint's host (``urllib.request.getproxies`` and ``proxy_bypass``
    through ``botocore.utils.get_environ_proxies``). The proxy is picked by the endpoint's scheme;
    a ``"scheme://host"`` key for the endpoint's host is preferred to the bare scheme, as
    botocore's ``Config`` documents and ``requests`` does (botocore itself only looks the scheme
    up).
    """
    if proxies is None:
        from botocore.utils import get_environ_proxies

        proxies = get_environ_proxies(endpoint_url)
    parts = urlsplit(endpoint_url)
    chosen = proxies.get(f"{parts.scheme}://{parts.hostname}") or proxies.get(parts.scheme)
    if not chosen:
        return None
    proxy = Proxy.from_url(chosen)
    logger.debug("requests to %s go through the proxy %s", endpoint_url, proxy.display)
    return proxy


@attrs.frozen
class Settings:
    """Everything a client resolved when it opened."""

    #: The real region (a FIPS pseudo-region rewritten, as boto3's ``client.meta.region_name``),
    #: which is also the region requests are signed for.
    region: str
    endpoint_url: str
    #: ``True`` (botocore's default bundle), or a CA bundle path (``AWS_CA_BUNDLE``,
    #: ``ca_bundle``, ``REQUESTS_CA_BUNDLE``).
    verify: bool | str
    retry_mode: RetryMode
    max_attempts: int
    #: For an ``https`` endpoint: the context that verifies it (built off the event loop).
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False, eq=False)
    #: The forward proxy for the endpoint (``proxies=`` or the environment), or ``None``.
    proxy: Proxy | None = None


# Parsed endpoint data, per botocore data search path (what AWS_DATA_PATH changes): every client
# of a process reads the same files, and parsing endpoints.json alone takes ~30 ms.
_endpoint_data: dict[tuple[Any, ...], Any] = {}


def _cached(session: ConfigSource, what: str, load: Any) -> Any:
    loader = session.get_component("data_loader")
    key = (what, *loader.search_paths)
    if key not in _endpoint_data:
        _endpoint_data[key] = load(loader)
    return _endpoint_data[key]


def _endpoint_provider(session: ConfigSource) -> EndpointProvider:
    def load(loader: Any) -> EndpointProvider:
        from botocore.endpoint_provider import EndpointProvider

        return EndpointProvider(
            ruleset_data=loader.load_service_model(SERVICE, "endpoint-rule-set-1"),
            partition_data=loader.load_data("partitions"),
        )

    provider: EndpointProvider = _cached(session, "rules", load)
    return provider


def _flag(session: ConfigSource, name: str) -> bool:
    from botocore.utils import ensure_boolean

    value = session.get_config_variable(name)
    return bool(ensure_boolean(value)) if value is not None else False


@attrs.frozen
class ResolvedEndpoint:
    """Where a client sends its requests, and the region it signs them for."""

    url: str
    #: The real region, FIPS pseudo-regions rewritten (boto3's ``client.meta.region_name``).
    #: It is also the signing region: once the pseudo-regions are rewritten, Glue's endpoint
    #: data scopes no region's signatures to another (tests/test_endpoints_boto3.py checks this
    #: against boto3 for every region of every partition).
    region: str


def resolve_endpoint(
    session: ConfigSource, region: str, endpoint_url: str | None = None
) -> ResolvedEndpoint:
    """The endpoint and real region for ``region`` as the user named it, the way boto3's
    ``create_client`` resolves them.

    A FIPS pseudo-region (``fips-us-east-1``, ``us-gov-west-1-fips``) stands for its real region
    with FIPS on, as botocore's ``ClientCreator._normalize_fips_region`` rewrites it. botocore's
    endpoint data (``endpoints.json``, through its ``ClientEndpointBridge``) then refuses what
    boto3 refuses, with boto3's exception: dual-stack in a partition without it is
    ``EndpointVariantError``, even when ``endpoint_url`` is set. The URL, when ``endpoint_url``
    is not given, is Glue's endpoint rule set's, with the session's FIPS / dual-stack settings.

    ``endpoints.json`` (~30 ms to parse) is only read when it can change the answer: with FIPS
    or dual-stack asked for, or custom endpoint data. Without them the bridge asks for no
    endpoint variant, so nothing can be refused, and the region it reports is the region it was
    given (Glue's entries in botocore's data have no global ``partitionEndpoint``, and only FIPS
    names are marked deprecated: ``tests/test_settings.py`` checks the installed data).
    """
    real_region = region.replace("fips-", "").replace("-fips", "")
    pseudo = real_region != region
    if pseudo:
        logger.warning(
            "Region %s is a FIPS pseudo-region: using %s with FIPS endpoints, as boto3 does. "
            "Set the region to %s and use_fips_endpoint (AWS_USE_FIPS_ENDPOINT) instead.",
            region,
            real_region,
            real_region,
        )
    use_fips = pseudo or _flag(session, "use_fips_endpoint")
    use_dualstack = _flag(session, "use_dualstack_endpoint")
    if not use_fips and not use_dualstack and _builtin_endpoint_data(session):
        # What the bridge would say, without endpoints.json (see the docstring).
        resolved_region = real_region
    else:
        # The region and the refusals come from the same pieces boto3 asks (the legacy endpoint
        # data, with the pseudo-region's FIPS setting in a client Config that overrides the
        # session's, as boto3's does).
        from botocore.client import ClientEndpointBridge
        from botocore.config import Config
        from botocore.regions import EndpointResolver

        def load(loader: Any) -> tuple[Any, bool]:
            data, path = loader.load_data_with_path("endpoints")
            return data, loader.is_builtin_path(path)

        data, builtin = _cached(session, "endpoints", load)
        bridge: Any = ClientEndpointBridge(
            EndpointResolver(data, uses_builtin_data=builtin),
            scoped_config=session.get_scoped_config(),
            client_config=Config(use_fips_endpoint=True) if pseudo else None,
            config_store=session.get_component("config_store"),
            service_signature_version="v4",
        )
        legacy = bridge.resolve(SERVICE, real_region, endpoint_url)
        resolved_region = str(legacy["region_name"])
        if endpoint_url is None and not bridge.resolver_uses_builtin_data():
            # Custom endpoint data (AWS_DATA_PATH): botocore hands its URL to the rule set as
            # the endpoint, so it is used as is.
            return ResolvedEndpoint(url=str(legacy["endpoint_url"]), region=resolved_region)
    if endpoint_url is not None:
        return ResolvedEndpoint(url=endpoint_url, region=resolved_region)
    url = str(
        _endpoint_provider(session)
        .resolve_endpoint(Region=resolved_region, UseFIPS=use_fips, UseDualStack=use_dualstack)
        .url
    )
    return ResolvedEndpoint(url=url, region=resolved_region)


def _builtin_endpoint_data(session: ConfigSource) -> bool:
    """Whether the ``endpoints`` data botocore would load is its own ``endpoints.json``: the
    first search path (``data_path`` / ``AWS_DATA_PATH``, ``~/.aws/models``, botocore's) holding
    the file is the package's. The loader's own lookup (``load_data_with_path``), with a
    ``stat`` per path instead of parsing the file; ``False`` (read it) for a loader it does not
    know."""
    from botocore.loaders import JSONFileLoader

    loader = session.get_component("data_loader")
    if type(loader.file_loader) is not JSONFileLoader:
        return False
    for path in loader.search_paths:
        candidate = os.path.join(path, "endpoints")
        if os.path.isdir(path) and loader.file_loader.exists(candidate):
            return bool(loader.is_builtin_path(candidate))
    return False


def resolve_region(session: ConfigSource, region: str | None) -> str:
    """The region as the user named it (argument, ``AWS_REGION``, the session's ``region``),
    checked to be a host label. A FIPS pseudo-region is returned as named:
    ``resolve_endpoint`` gives the real one."""
    if region is None:
        region = os.environ.get("AWS_REGION") or session.get_config_variable("region")
    if not region:
        raise NoRegionError()
    from botocore.utils import validate_region_name

    validate_region_name(region)
    return str(region)


def _configured_endpoint(session: ConfigSource) -> str | None:
    if _flag(session, "ignore_configured_endpoint_urls"):
        return None
    from botocore.configprovider import ConfiguredEndpointProvider

    provider = ConfiguredEndpointProvider(
        full_config=session.full_config,
        scoped_config=session.get_scoped_config(),
        client_name=SERVICE,
    )
    value: Any = provider.provide()
    return str(value) if value else None


def resolve_retry(session: ConfigSource, retry: RetryConfig | None) -> tuple[RetryMode, int]:
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


def resolve_verify(session: ConfigSource) -> bool | str:
    """The CA bundle, as boto3 picks it: ``AWS_CA_BUNDLE`` / the profile's ``ca_bundle``, else
    ``REQUESTS_CA_BUNDLE``, else ``True`` (botocore's default bundle). A value that is empty or
    blank is botocore's ``InvalidConfigError``, as with boto3."""
    ca_bundle: Any = session.get_config_variable("ca_bundle")
    if ca_bundle is None:
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    if ca_bundle is None:
        return True
    if not str(ca_bundle).strip():
        raise InvalidConfigError(
            error_msg="Invalid CA bundle: the configured value (ca_bundle, AWS_CA_BUNDLE or "
            "REQUESTS_CA_BUNDLE) is empty. Provide the path to a CA bundle file."
        )
    return str(ca_bundle)


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """A verifying context trusting exactly what boto3 trusts: the CA bundle ``verify`` names,
    else botocore's default bundle (``botocore.httpsession.where()``: certifi's, or botocore's
    own ``cacert.pem``), never the system store. Blocking (reading a bundle takes ~15 ms)."""
    from botocore.httpsession import where  # (start-up thread only)

    cafile = verify if isinstance(verify, str) else where()
    return ssl.create_default_context(cafile=cafile)


def resolve_settings(
    session: ConfigSource,
    *,
    region: str | None,
    endpoint_url: str | None,
    retry: RetryConfig | None,
    proxies: Mapping[str, str] | None = None,
) -> Settings:
    """Blocking (reads config files and a CA bundle): call in a worker thread."""
    endpoint = resolve_endpoint(
        session, resolve_region(session, region), endpoint_url or _configured_endpoint(session)
    )
    url = endpoint.url
    check_endpoint_url(url, as_botocore=True)
    verify = resolve_verify(session)
    mode, attempts = resolve_retry(session, retry)
    return Settings(
        region=endpoint.region,
        endpoint_url=url,
        verify=verify,
        retry_mode=mode,
        max_attempts=attempts,
        # (A plain-http endpoint never needs one.)
        ssl_context=tls_context(verify) if url.startswith("https:") else None,
        proxy=resolve_proxy(url, proxies),
    )


def _timeouts_or_default(value: Timeouts | None) -> Timeouts:
    return Timeouts() if value is None else value


def _positive_int(name: str) -> Any:
    def check(_: Any, __: Any, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")

    return check


def _instance_of(kind: type[Any], name: str) -> Any:
    def check(_: Any, __: Any, value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")

    return check


def _proxies_or_none(value: Any) -> dict[str, str] | None:
    """A copy of a ``proxies`` mapping (str to str), each URL checked (messages never show a
    password)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(
            'proxies must be a mapping of str to str, e.g. {"https": "http://host:3128"}'
        )
    for key, url in value.items():
        if url:  # (an empty value means "no proxy", as in boto3)
            try:
                Proxy.from_url(url)
            except ValueError as exc:
                raise ValueError(f"proxies[{key!r}] is {exc}") from None
    return dict(value)


@attrs.frozen(kw_only=True)
class ClientConfig:
    """What a ``GlueSessionClient`` was given, checked once, before anything is resolved."""

    region: str | None = None
    profile: str | None = None
    #: Explicit ``(access key, secret key, session token)``; ``None`` for botocore's chain.
    explicit_keys: tuple[str, str, str | None] | None = attrs.field(default=None, repr=False)
    endpoint_url: str | None = attrs.field(default=None, validator=_optional(check_endpoint_url))
    retry: RetryConfig | None = attrs.field(
        default=None, validator=_instance_of(RetryConfig, "retry")
    )
    timeouts: Timeouts = attrs.field(
        factory=Timeouts,
        converter=_timeouts_or_default,
        validator=_instance_of(Timeouts, "timeouts"),
    )
    max_connections: int = attrs.field(default=100, validator=_positive_int("max_connections"))
    max_reply_bytes: int = attrs.field(
        default=DEFAULT_MAX_REPLY_BYTES, validator=_positive_int("max_reply_bytes")
    )
    #: boto3's ``Config(proxies=...)`` mapping; ``None`` reads the environment at open.
    proxies: Mapping[str, str] | None = attrs.field(
        default=None, converter=_proxies_or_none, repr=False
    )

    @staticmethod
    def keys(
        key: str | None, secret: str | None, token: str | None
    ) -> tuple[str, str, str | None] | None:
        """Explicit keys from the arguments: both halves of a key pair, or neither, each a
        ``str`` (boto3 takes anything and fails when it signs, or signs garbage)."""
        for name, value in (
            ("aws_access_key_id", key),
            ("aws_secret_access_key", secret),
            ("aws_session_token", token),
        ):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        if key is None and secret is None:
            return None
        if key is None or secret is None:
            missing = "aws_secret_access_key" if secret is None else "aws_access_key_id"
            raise PartialCredentialsError(provider="explicit", cred_var=missing)
        return key, secret, token

    def resolve(
        self, session: botocore.session.Session | None
    ) -> tuple[botocore.session.Session | None, Settings]:
        """Blocking (reads files): the botocore session to take credentials from (``None`` when
        the keys are explicit and no session was given), and the settings. Runs in a worker
        thread."""
        source: ConfigSource
        if session is not None:
            if self.profile is not None:
                session.set_config_variable("profile", self.profile)
            source = session
        elif self.explicit_keys is not None and can_replace_session():
            # Only settings are read: botocore.session (with botocore.client, its docs machinery
            # and botocore.credentials, ~20 ms) is not needed for them.
            source = ConfigSession(profile=self.profile)
        else:
            # Imported here, in the start-up thread: botocore.session pulls in botocore.client
            # and its documentation machinery (~150 ms) that importing this package need not pay.
            import botocore.session

            # With explicit keys the session is only read for settings, never used to create
            # clients (the assume-role and SSO providers do that), so it needs no event handlers.
            session = botocore.session.Session(
                profile=self.profile, include_builtin_handlers=self.explicit_keys is None
            )
            source = session
        settings = resolve_settings(
            source,
            region=self.region,
            endpoint_url=self.endpoint_url,
            retry=self.retry,
            proxies=self.proxies,
        )
        return session, settings
