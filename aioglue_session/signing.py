"""SigV4 signing of GetSession requests with botocore's own signer.

``GlueSigner`` is :class:`botocore.auth.SigV4Auth`; the only things it adds are an explicit
signing time (so a skewed clock can be corrected and tests can pin the time) and no DEBUG logging
of the canonical request, which botocore's ``add_auth`` does and which would print the session
token. The headers it produces are byte-identical to ``SigV4Auth.add_auth`` for the same request
and time (``tests/test_signing.py`` holds it to that).
"""

from __future__ import annotations

from datetime import datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from .protocol import CONTENT_TYPE, TARGET

__all__ = ["GlueSigner", "sign_get_session"]

SERVICE = "glue"


class GlueSigner(SigV4Auth):
    """botocore's SigV4 signer with the signing time passed in."""

    def __init__(self, credentials: ReadOnlyCredentials, region_name: str) -> None:
        super().__init__(credentials, SERVICE, region_name)

    def sign_at(self, request: AWSRequest, now: datetime) -> None:
        """``SigV4Auth.add_auth`` at time ``now`` (naive or aware UTC)."""
        request.context["timestamp"] = now.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]


def sign_get_session(
    url: str,
    body: bytes,
    credentials: ReadOnlyCredentials,
    region: str,
    now: datetime,
    user_agent: str,
) -> dict[str, str]:
    """The headers of one signed GetSession POST to ``url``."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "X-Amz-Target": TARGET,
            "Content-Type": CONTENT_TYPE,
            "User-Agent": user_agent,
        },
    )
    GlueSigner(credentials, region).sign_at(request, now)
    return dict(request.headers.items())
