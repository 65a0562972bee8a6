"""aioglue_session: a lean asyncio client for AWS Glue interactive sessions (``GetSession``)."""

from ._preload import importing_aiohttp

with importing_aiohttp():
    import aiohttp  # noqa: F401  (first: see _preload)

from . import errors
from ._version import __version__
from .client import GlueSessionClient
from .models import Session, SessionChange, SessionCommand, SessionResult, SessionStatus
from .settings import RetryConfig, Timeouts

__all__ = [
    "GlueSessionClient",
    "RetryConfig",
    "Session",
    "SessionChange",
    "SessionCommand",
    "SessionResult",
    "SessionStatus",
    "Timeouts",
    "__version__",
    "errors",
]
