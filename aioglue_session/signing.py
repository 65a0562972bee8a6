"""SigV4 signing of GetSession requests with botocore's own signer, without its per-request cost.

``GlueSigner`` is ``botocore.auth.SigV4Auth``. Every GetSession request a client sends has the
same method, URL, signed header names, credentials and user agent; only the signing time and the
body change. So, once per (credentials, region, URL, user agent), the signer runs botocore's own
``canonical_request`` over a prototype ``AWSRequest`` and keeps the canonical request cut at its
two variable points (the ``x-amz-date`` value and the payload hash). Once per signing time (the
``X-Amz-Date`` changes once a second) it fills in the date, hashes the canonical request up to
the payload hash and absorbs the string to sign up to its last line into the HMAC keyed with
the day's signing key (RFC 2104: an inner and an outer SHA-256; the key is derived as botocore's
``signature`` derives it, with four one-shot ``hmac.digest`` calls, once a day). Per request
only the body's hash, the end of the canonical request's hash and the HMAC's last block remain:
about 1.2 µs instead of the ~45 µs of ``add_auth``, which builds and normalises an
``AWSRequest`` and its headers each time and derives the key for every request.

The output is byte-identical to ``SigV4Auth.add_auth`` for the same request and time:
``tests/test_signing.py`` checks that over generated ids, bodies, hosts, regions, keys, tokens,
user agents and times. Nothing here logs: botocore's ``add_auth`` logs the canonical request at
DEBUG, which would print the session token.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from hashlib import sha256
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from multidict import CIMultiDict

from .protocol import CONTENT_TYPE, TARGET

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

__all__ = ["SKEW_CODES", "GlueSigner", "RequestSigner", "clock_offset"]

SERVICE = "glue"
# A stand-in signing time for the prototype: 16 characters like a real one, and it cannot occur
# in a canonical request otherwise (header values there are whitespace-trimmed, dates are digits).
_DATE_MARK = "00000000T000000@"


class GlueSigner(SigV4Auth):
    """botocore's SigV4 signer for one client's GetSession requests.

    ``headers(body, amz_date)`` returns the request headers, ``Authorization`` included, that
    ``add_auth`` would give an ``AWSRequest(POST url, body)`` signed at ``amz_date``.
    """

    if TYPE_CHECKING:  # SigV4Auth internals that botocore-stubs leaves out
        _region_name: str
        _service_name: str

    def _sign(self, key: bytes, msg: str, hex: bool = False) -> Any:
        """botocore's HMAC-SHA256 step, as the one-shot ``hmac.digest`` (same bytes, no
        HMAC object per call)."""
        digest = hmac.digest(key, msg.encode("utf-8"), "sha256")
        return digest.hex() if hex else digest

    def __init__(
        self,
        credentials: ReadOnlyCredentials,
        region_name: str,
        url: str = "https://glue.us-east-1.amazonaws.com/",
        user_agent: str = "",
    ) -> None:
        super().__init__(credentials, SERVICE, region_name)
        prototype = AWSRequest(
            method="POST",
            url=url,
            data=b"",
            headers={
                "X-Amz-Target": TARGET,
                "Content-Type": CONTENT_TYPE,
                "User-Agent": user_agent,
            },
        )
        prototype.context["timestamp"] = _DATE_MARK
        self._modify_request_before_signing(prototype)  # type: ignore[attr-defined]
        # botocore's canonical request of a bodyless prototype ends in the empty-payload hash.
        canonical = self.canonical_request(prototype)
        canonical = canonical[: canonical.rindex("\n") + 1]
        date_line = f"\nx-amz-date:{_DATE_MARK}\n"
        if canonical.count(date_line) != 1:  # pragma: no cover - botocore changed its layout
            raise RuntimeError("unexpected canonical request layout from botocore")
        before, after = canonical.split(date_line)
        self._canonical_before = before + "\nx-amz-date:"
        self._canonical_after = "\n" + after
        self._credential_scope_tail = "/" + self.credential_scope(prototype).split("/", 1)[1]
        self._auth_head = f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/"
        signed = self.signed_headers(self.headers_to_sign(prototype))
        self._auth_tail = f", SignedHeaders={signed}, Signature="
        self._base_headers = {
            k: v for k, v in prototype.headers.items() if k not in ("X-Amz-Date", "Authorization")
        }
        self._token = credentials.token
        self._stamp: _Stamp | None = None
        self._day: tuple[str, hashlib._Hash, hashlib._Hash] | None = None

    def _keyed(self, day: str) -> tuple[hashlib._Hash, hashlib._Hash]:
        """HMAC-SHA256 (RFC 2104) keyed with botocore's ``signature`` key for ``day`` (derived
        as it derives it): the inner and outer hashes with the key's pads absorbed. Derived once
        a day, not at every signing second."""
        if self._day is None or self._day[0] != day:
            secret = self.credentials.secret_key
            k_date = self._sign(f"AWS4{secret}".encode(), day)
            k_region = self._sign(k_date, self._region_name)
            k_service = self._sign(k_region, self._service_name)
            key = self._sign(k_service, "aws4_request").ljust(64, b"\0")  # (32 bytes: padded)
            self._day = (day, sha256(key.translate(_IPAD)), sha256(key.translate(_OPAD)))
        return self._day[1], self._day[2]

    def _for_date(self, amz_date: str) -> _Stamp:
        """Everything of a signature that only depends on the signing time (see ``_Stamp``)."""
        day = amz_date[:8]
        canonical = sha256((self._canonical_before + amz_date + self._canonical_after).encode())
        # The HMAC of the string to sign, up to its last line: the day's inner hash with the
        # string's first lines absorbed, and the day's outer hash.
        keyed_inner, outer = self._keyed(day)
        inner = keyed_inner.copy()
        inner.update(f"AWS4-HMAC-SHA256\n{amz_date}\n{day}{self._credential_scope_tail}\n".encode())
        headers = CIMultiDict(self._base_headers)
        headers["X-Amz-Date"] = amz_date
        if self._token:
            # add_auth puts the token after the date; keep its header order.
            del headers["X-Amz-Security-Token"]
            headers["X-Amz-Security-Token"] = self._token
        auth = f"{self._auth_head}{day}{self._credential_scope_tail}{self._auth_tail}"
        return _Stamp(amz_date, canonical, inner, outer, headers, auth)

    def headers(self, body: bytes, amz_date: str) -> CIMultiDict[str]:
        """The signed headers of a POST of ``body`` at ``amz_date`` (``YYYYMMDDTHHMMSSZ``)."""
        stamp = self._stamp
        if stamp is None or stamp.amz_date != amz_date:
            stamp = self._stamp = self._for_date(amz_date)
        canonical = stamp.canonical.copy()
        canonical.update(sha256(body).hexdigest().encode())
        inner = stamp.inner.copy()
        inner.update(canonical.hexdigest().encode())
        outer = stamp.outer.copy()
        outer.update(inner.digest())
        headers: CIMultiDict[str] = stamp.headers.copy()
        headers.add("Authorization", stamp.authorization + outer.hexdigest())
        return headers


# The HMAC pads (RFC 2104), as byte translation tables.
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class _Stamp(NamedTuple):
    """A signer's work for one signing time (one second), shared by the requests signed in it.

    Per request, only the body's hash, the canonical request's hash (``canonical``: botocore's
    canonical request, hashed up to the payload hash), and the HMAC of the string to sign (its
    last line) remain.
    """

    amz_date: str
    canonical: hashlib._Hash
    inner: hashlib._Hash
    outer: hashlib._Hash
    #: Every signed header but ``Authorization``, in ``add_auth``'s order.
    headers: CIMultiDict[str]
    #: ``Authorization`` up to the signature.
    authorization: str


# --- the signing clock ---------------------------------------------------------------------------

#: Error codes that may mean the request's signing time is too far from the service's clock.
SKEW_CODES = frozenset(
    {"RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException", "SignatureDoesNotMatch"}
)
# A signature error is only about time when its message says so.
_SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})
_TIME_WORDING = ("signature expired", "signature not yet current")


def clock_offset(code: str, message: str, date_header: str | None, now: float) -> float | None:
    """Seconds to add to the local clock (``now``, epoch seconds) to match the service's, when
    an error reply says the signing time was off; ``None`` when it does not say so, or carries
    no usable ``Date`` header. Pure: the table of cases is in ``tests/test_signing.py``."""
    if code not in SKEW_CODES:
        return None
    if code in _SIGNATURE_CODES and not any(w in message.lower() for w in _TIME_WORDING):
        return None
    if not date_header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:  # "-0000" or no zone: the RFC says UTC
        server = server.replace(tzinfo=timezone.utc)
    return server.timestamp() - now


class RequestSigner:
    """Signs one client's GetSession requests: the signing clock, its learned offset, and a
    ``GlueSigner`` per set of credentials (a refresh brings a new one).

    ``clock`` is the wall clock (epoch seconds). The ``X-Amz-Date`` is made once a second.
    """

    def __init__(
        self, region: str, url: str, user_agent: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._region = region
        #: The endpoint URL the requests are signed for.
        self.url = url
        self._user_agent = user_agent
        self._clock = clock
        self._offset = 0.0
        self._second = -1
        self._date = ""
        self._signer: GlueSigner | None = None

    @property
    def offset(self) -> float:
        """Seconds added to the local clock to match the service's (0 until a reply says the
        clocks differ)."""
        return self._offset

    def amz_date(self) -> str:
        """The signing time, ``YYYYMMDDTHHMMSSZ``, corrected by ``offset``."""
        second = int(self._clock() + self._offset)
        if second != self._second:
            self._second = second
            self._date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        return self._date

    def headers(self, credentials: ReadOnlyCredentials, body: bytes) -> CIMultiDict[str]:
        """The signed headers of a GetSession POST of ``body``, now."""
        signer = self._signer
        if signer is None or signer.credentials is not credentials:
            signer = self._signer = GlueSigner(
                credentials, self._region, self.url, self._user_agent
            )
        return signer.headers(body, self.amz_date())

    def correct_clock(self, code: str, message: str, headers: Mapping[str, str]) -> bool:
        """Learn the offset from an error reply that says the signing time was off (its
        ``Date`` header); ``True`` when it did, so the request is worth sending again."""
        offset = clock_offset(code, message, headers.get("date"), self._clock())
        if offset is None:
            return False
        self._offset = offset
        return True
