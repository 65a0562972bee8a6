"""Exceptions raised by :mod:`aioglue_session`.

Service errors subclass :class:`botocore.exceptions.ClientError`, so code written for boto3
(``except ClientError as e: e.response["Error"]["Code"]``) keeps working unchanged. Network and
configuration failures are botocore's own exception classes, re-exported here for convenience.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import botocore.exceptions
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from .models import Session

__all__ = [
    "RETRYABLE_KINDS",
    "AccessDeniedException",
    "ClientClosedError",
    "ClientError",
    "ConnectTimeoutError",
    "EndpointConnectionError",
    "EntityNotFoundException",
    "GlueError",
    "InternalServiceException",
    "InvalidInputException",
    "InvalidMaxRetryAttemptsError",
    "InvalidRetryModeError",
    "NoCredentialsError",
    "NoCredentialsFoundError",
    "NoRegionError",
    "OperationTimeoutException",
    "ParamValidationError",
    "PartialCredentialsError",
    "ReadTimeoutError",
    "ThrottlingException",
    "WaiterError",
    "error_class_for",
]

OPERATION_NAME = "GetSession"


class GlueError(ClientError):
    """An error reply from Glue (or from something in front of it).

    ``response`` is shaped as botocore's parsed error response::

        {"Error": {"Code": ..., "Message": ...},
         "ResponseMetadata": {"RequestId": ..., "HTTPStatusCode": ..., "HTTPHeaders": {...},
                              "RetryAttempts": ...}}
    """

    response: dict[str, Any]  # type: ignore[assignment]

    def __init__(self, error_response: Mapping[str, Any], operation_name: str = OPERATION_NAME):
        super().__init__(dict(error_response), operation_name)  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.response, self.operation_name)

    def refresh_message(self) -> None:
        """Rebuild ``str(self)`` after ``response`` changed (retry metadata added)."""
        fresh = ClientError(self.response, self.operation_name)  # type: ignore[arg-type]
        self.args = fresh.args

    @property
    def code(self) -> str:
        return str(self.response.get("Error", {}).get("Code", ""))

    @property
    def message(self) -> str:
        return str(self.response.get("Error", {}).get("Message", ""))

    @property
    def request_id(self) -> str | None:
        rid = self.response.get("ResponseMetadata", {}).get("RequestId")
        return str(rid) if rid else None

    @property
    def status_code(self) -> int | None:
        status = self.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None

    @property
    def retry_attempts(self) -> int:
        return int(self.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )


class AccessDeniedException(GlueError):
    """The caller is not allowed to call GetSession (HTTP 4xx)."""


class EntityNotFoundException(GlueError):
    """No session with this id exists in the account and region."""


class InternalServiceException(GlueError):
    """Glue failed internally; retried by default."""


class OperationTimeoutException(GlueError):
    """The operation timed out inside Glue."""


class InvalidInputException(GlueError):
    """Glue refused the input."""


class ThrottlingException(GlueError):
    """The request was throttled; retried by default."""


_MODELED: dict[str, type[GlueError]] = {
    cls.__name__: cls
    for cls in (
        AccessDeniedException,
        EntityNotFoundException,
        InternalServiceException,
        OperationTimeoutException,
        InvalidInputException,
        ThrottlingException,
    )
}


def error_class_for(code: str) -> type[GlueError]:
    """The exception class for an error code: a modeled subclass, else :class:`GlueError`."""
    return _MODELED.get(code, GlueError)


#: What an attempt may raise that the retry policy looks at (error replies, botocore's network
#: and credential errors); anything else propagates at once.
RETRYABLE_KINDS = (GlueError, botocore.exceptions.BotoCoreError)


class ParamValidationError(botocore.exceptions.ParamValidationError, ValueError):
    """A parameter was refused before anything was sent."""

    def __init__(self, report: str) -> None:
        super().__init__(report=report)


class InvalidRetryModeError(botocore.exceptions.InvalidRetryModeError, ValueError):
    """A retry mode other than ``"standard"`` or ``"adaptive"``, from the code, the environment
    (``AWS_RETRY_MODE``) or a profile (``retry_mode``): botocore's class (what boto3 raises), and
    a ``ValueError``."""


class InvalidMaxRetryAttemptsError(botocore.exceptions.InvalidMaxRetryAttemptsError, ValueError):
    """``max_attempts`` that is not an integer >= 1, from the code, the environment
    (``AWS_MAX_ATTEMPTS``) or a profile: botocore's class (what boto3 raises), and a
    ``ValueError``."""


class NoCredentialsFoundError(NoCredentialsError):
    """botocore's ``NoCredentialsError``, saying where the chain looked."""

    fmt = "Unable to locate credentials. Looked in: {where}"


class ClientClosedError(RuntimeError):
    """The client was closed (or never entered) when a call was made or while it ran."""


class WaiterError(Exception):
    """``wait_for_session`` gave up: a terminal status not wanted, or the timeout passed."""

    def __init__(self, reason: str, last_session: Session | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.last_session = last_session

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.reason, self.last_session)
