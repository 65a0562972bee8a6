"""aioglue_session: a lean asyncio client for AWS Glue interactive sessions (``GetSession``)."""

from . import errors
from .client import GlueSessionClient
from .config import RetryConfig, Timeouts
from .models import Session, SessionCommand, SessionResult, SessionStatus

__version__ = "0.1.0"

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
