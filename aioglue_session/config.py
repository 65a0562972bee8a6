"""User-facing configuration: retry policy and timeouts."""

from __future__ import annotations

from typing import Any, Literal

import attrs

__all__ = ["DEFAULT_MAX_REPLY_BYTES", "RetryConfig", "RetryMode", "Timeouts"]

RetryMode = Literal["standard", "adaptive"]

#: Replies larger than this are refused without being read whole (see ``GlueSessionClient``).
DEFAULT_MAX_REPLY_BYTES = 10 * 1024 * 1024


def _check_mode(_: Any, __: Any, value: Any) -> None:
    if value is not None and value not in ("standard", "adaptive"):
        raise ValueError(f"RetryConfig.mode must be 'standard' or 'adaptive', not {value!r}")


def _check_attempts(_: Any, __: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"RetryConfig.max_attempts must be an int >= 1 or None, not {value!r}")


@attrs.frozen
class RetryConfig:
    """How calls are retried, with botocore's semantics.

    ``mode``: ``"standard"`` or ``"adaptive"`` (standard plus a client-side rate limiter).
    ``None`` takes ``AWS_RETRY_MODE`` / the profile's ``retry_mode``, else ``"standard"``.
    ``max_attempts`` counts the first try; ``None`` takes ``AWS_MAX_ATTEMPTS`` / the profile's
    ``max_attempts``, else 3.
    """

    mode: RetryMode | None = attrs.field(default="standard", validator=_check_mode)
    max_attempts: int | None = attrs.field(default=None, validator=_check_attempts)


def _check_seconds(_: Any, attr: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"Timeouts.{attr.name} must be a positive number of seconds or None")


@attrs.frozen
class Timeouts:
    """Seconds. ``connect`` and ``read`` apply to each attempt; ``total`` bounds one call across
    all of its attempts and backoff sleeps (no sleep starts that would end past it)."""

    connect: float | None = attrs.field(default=60.0, validator=_check_seconds)
    read: float | None = attrs.field(default=60.0, validator=_check_seconds)
    total: float | None = attrs.field(default=None, validator=_check_seconds)
