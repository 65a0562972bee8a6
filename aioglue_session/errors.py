"""Exceptions raised by ``aioglue_session``.

Service errors subclass ``botocore.exceptions.ClientError``, so code written for boto3
(``except ClientError as e: e.response["Error"]["Code"]``) keeps working unchanged. Network and
configuration failures are botocore's own exception classes, some re-exported here for
convenience. On a client, ``glue.exceptions`` is this module.
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
    "ClientBusyError",
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
    "error_code",
]

OPERATION_NAME = "GetSession"


class GlueError(ClientError):
    """An error reply from Glue (or from something in front of it), as a botocore
    ``ClientError``.

    ``response`` is shaped as botocore's parsed error response:

    ```python
    {"Error": {"Code": ..., "Message": ...},
     "ResponseMetadata": {"RequestId": ..., "HTTPStatusCode": ..., "HTTPHeaders": {...},
                          "RetryAttempts": ...}}
    ```

    The code follows one rule for every error reply, JSON or not: botocore's wherever botocore
    finds one (the body's ``__type``, a namespace ``a.b#`` and a ``:uri`` suffix stripped, or
    the code of an ``x-amzn-query-error`` header); where botocore would fall back to the bare
    status, the first of the ``x-amzn-ErrorType`` header, the body's ``code``, an XML
    ``<Code>``; else the status as botocore writes it (``"503"``). The client's own codes:
    ``InvalidReply`` for a reply that does not fit the GetSession shape (the message names the
    field), ``ReplyTooLarge`` for one over ``max_reply_bytes``.
    """

    response: dict[str, Any]  # type: ignore[assignment]
    """The error response, shaped as botocore's (above); ``ResponseMetadata`` also holds
    ``"MaxAttemptsReached": True`` when retrying stopped because the attempts ran out."""

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
        """The error code (``response["Error"]["Code"]``), e.g. ``"EntityNotFoundException"``."""
        return str(self.response.get("Error", {}).get("Code", ""))

    @property
    def message(self) -> str:
        """The error message: botocore's for a JSON body, else a short excerpt of the body."""
        return str(self.response.get("Error", {}).get("Message", ""))

    @property
    def request_id(self) -> str | None:
        """The reply's ``x-amzn-RequestId`` (``x-amz-request-id``), or ``None`` without one."""
        rid = self.response.get("ResponseMetadata", {}).get("RequestId")
        return str(rid) if rid else None

    @property
    def status_code(self) -> int | None:
        """The reply's HTTP status (``400``, ``503``...)."""
        status = self.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None

    @property
    def retry_attempts(self) -> int:
        """Retries made before this error was raised (0: it came from the first attempt)."""
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
    """The exception class for an error code: a modeled subclass, else ``GlueError``."""
    return _MODELED.get(code, GlueError)


def error_code(exc: BaseException) -> str:
    """What to call a failure in one word: an error reply's code, else the exception's class
    name (``EndpointConnectionError``, ``CancelledError``)."""
    return exc.code if isinstance(exc, GlueError) else type(exc).__name__


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


class ClientBusyError(RuntimeError):
    """The call was refused at once: ``max_waiting`` calls already wait for a send slot or a
    rate token. Nothing was sent (the service said nothing, so this is not a ``GlueError``), and
    the client never retries it. For a service, the answer to give is 503 with ``Retry-After``.
    """


class WaiterError(Exception):
    """``wait_for_session`` gave up: a terminal status not wanted, or the timeout passed."""

    def __init__(self, reason: str, last_session: Session | None) -> None:
        super().__init__(reason)
        self.reason = reason
        """Why it gave up, as a sentence naming the session, the status reached or the time
        waited, and the statuses waited for (also ``str(error)``)."""
        self.last_session = last_session
        """The last [``Session``][aioglue_session.Session] the waiter polled."""

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.reason, self.last_session)
