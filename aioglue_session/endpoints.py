"""Region, endpoint, TLS and retry settings, resolved the way boto3 resolves them.

Everything here reads configuration files, so :func:`resolve_settings` is blocking and the client
runs it in a worker thread. The real work is botocore's: its config store and profile loader, its
configured-endpoint chain (``AWS_ENDPOINT_URL_GLUE``, ``AWS_ENDPOINT_URL``, the profile's
``services`` section and ``endpoint_url``) and Glue's endpoint rule set with the partition data.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import attrs
import botocore.session
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.endpoint_provider import EndpointProvider
from botocore.exceptions import InvalidRegionError, NoRegionError
from botocore.utils import ensure_boolean, validate_region_name

from .config import RetryConfig

__all__ = ["Settings", "resolve_endpoint", "resolve_settings"]

SERVICE = "glue"

_providers: dict[int, EndpointProvider] = {}


@attrs.frozen
class Settings:
    region: str
    endpoint_url: str
    #: ``True`` (system trust store), or a CA bundle path from ``AWS_CA_BUNDLE`` / ``ca_bundle``.
    verify: bool | str
    retry_mode: str
    max_attempts: int


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


def check_endpoint_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"endpoint_url must be an absolute http:// or https:// URL, not {url[:100]!r}"
        )
    return url


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


def _retry_settings(
    session: botocore.session.Session, retry: RetryConfig | None
) -> tuple[str, int]:
    scoped = session.get_scoped_config()
    mode: str | None = retry.mode if retry is not None else None
    if mode is None:
        mode = os.environ.get("AWS_RETRY_MODE") or scoped.get("retry_mode") or "standard"
    if mode not in ("standard", "adaptive"):
        # "legacy" and unknown modes: boto3 would use legacy; we only have the modern ones.
        mode = "standard"
    attempts = retry.max_attempts if retry is not None else None
    if attempts is None:
        raw = os.environ.get("AWS_MAX_ATTEMPTS") or scoped.get("max_attempts")
        if raw is not None:
            try:
                attempts = int(raw)
            except ValueError:
                raise ValueError(f"max_attempts must be an integer, not {raw!r}") from None
            if attempts < 1:
                raise ValueError(f"max_attempts must be >= 1, not {attempts}")
    return str(mode), attempts if attempts is not None else 3


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
    mode, attempts = _retry_settings(session, retry)
    return Settings(
        region=resolved_region,
        endpoint_url=url,
        verify=str(ca_bundle) if ca_bundle else True,
        retry_mode=mode,
        max_attempts=attempts,
    )


__all__ += ["InvalidRegionError", "check_endpoint_url", "resolve_region"]
