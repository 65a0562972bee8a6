"""aioglue_session: a lean asyncio client for AWS Glue interactive sessions (``GetSession``)."""

from . import errors
from ._version import __version__
from .client import GlueSessionClient
from .models import Session, SessionCommand, SessionResult, SessionStatus
from .settings import RetryConfig, Timeouts

__all__ = [
    "GlueSessionClient",
    "RetryConfig",
    "Session",
    "SessionCommand",
    "SessionResult",
    "SessionStatus",
    "Timeouts",
    "__version__",
    "errors",
]
