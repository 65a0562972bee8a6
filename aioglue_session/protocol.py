"""The GetSession wire protocol as pure functions: no sockets, no clocks, no event loop.

``encode_request`` turns validated parameters into the JSON 1.1 body; ``parse_reply`` turns
``(status, headers, body)`` into a :class:`~aioglue_session.models.Session` or raises a
:class:`~aioglue_session.errors.GlueError`. Nothing else escapes ``parse_reply``, whatever bytes
arrive: that is what lets the transport and the retry loop stay small.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import cattrs

from .errors import GlueError, ParamValidationError, error_class_for
from .models import Session, converter, detailed_converter, wire_name

__all__ = [
    "CONTENT_TYPE",
    "TARGET",
    "build_error",
    "encode_request",
    "parse_reply",
    "validate_request_origin",
    "validate_session_id",
]

TARGET = "AWSGlue.GetSession"
CONTENT_TYPE = "application/x-amz-json-1.1"

# Glue's NameString: 1-255 characters of [\u0020-\uD7FF\uE000-\uFFFD\t] or a surrogate *pair*
# (the model's Java-style "\uD800\uDC00-\uDBFF\uDFFF"), which in Python is U+10000..U+10FFFF.
# Lone surrogates, C0/C1 controls other than TAB, U+FFFE/U+FFFF are refused.
SESSION_ID_RE = re.compile("[\t\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]{1,255}")
# OrchestrationNameString: 1-128 of [.\-_A-Za-z0-9].
REQUEST_ORIGIN_RE = re.compile(r"[.\-_A-Za-z0-9]{1,128}")

# json.dumps' own C string encoder (ensure_ascii=True): non-ASCII and controls are escaped.
_encode_string = json.encoder.encode_basestring_ascii

#: Bytes of a non-JSON error body kept in the error message.
EXCERPT_LEN = 200


def validate_session_id(session_id: object) -> str:
    if (
        session_id.__class__ is str
        and 0 < len(session_id) <= 255
        and session_id.isascii()
        and session_id.isprintable()
    ):
        # The common case, decided without the regex: printable ASCII is U+0020..U+007E, all
        # inside the Glue pattern.
        return session_id
    if not isinstance(session_id, str):
        raise ParamValidationError(
            f"Invalid type for parameter Id, value: {session_id!r:.80}, "
            f"type: {type(session_id).__name__}, valid types: str"
        )
    if not 1 <= len(session_id) <= 255:
        raise ParamValidationError(
            f"Invalid length for parameter Id, length: {len(session_id)}, valid range: 1-255"
        )
    if SESSION_ID_RE.fullmatch(session_id) is None:
        bad = next(c for c in session_id if SESSION_ID_RE.fullmatch(c) is None)
        raise ParamValidationError(
            f"Invalid value for parameter Id: character U+{ord(bad):04X} is outside the Glue "
            "pattern [\\u0020-\\uD7FF\\uE000-\\uFFFD\\U00010000-\\U0010FFFF\\t]"
        )
    return session_id


def validate_request_origin(request_origin: object) -> str | None:
    if request_origin is None:
        return None
    if not isinstance(request_origin, str):
        raise ParamValidationError(
            f"Invalid type for parameter RequestOrigin, type: {type(request_origin).__name__}, "
            "valid types: str"
        )
    if REQUEST_ORIGIN_RE.fullmatch(request_origin) is None:
        raise ParamValidationError(
            f"Invalid value for parameter RequestOrigin: {request_origin[:40]!r} must be 1-128 "
            "characters of [.\\-_A-Za-z0-9]"
        )
    return request_origin


def encode_request(session_id: str, request_origin: str | None = None) -> bytes:
    """The compact JSON 1.1 body for already-validated parameters (as botocore writes it).

    Byte for byte ``json.dumps({"Id": ..., "RequestOrigin": ...}, separators=(",", ":"))``:
    the same C string encoder, without building an encoder object per request.
    """
    body = '{"Id":' + _encode_string(session_id)
    if request_origin is not None:
        body += ',"RequestOrigin":' + _encode_string(request_origin)
    return (body + "}").encode()


# --- replies -------------------------------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _metadata(status: int, headers: dict[str, str], retry_attempts: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "RequestId": headers.get("x-amzn-requestid") or headers.get("x-amz-request-id", ""),
        "HTTPStatusCode": status,
        "HTTPHeaders": headers,
        "RetryAttempts": retry_attempts,
    }
    return meta


def _clean_code(code: str) -> str:
    # "aws.protocoltests#FooError:http://..." -> "FooError", as botocore does.
    code = code.split(":", 1)[0]
    return code.rsplit("#", 1)[-1].strip()


def _excerpt(body: bytes) -> str:
    text = body[:EXCERPT_LEN].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text + ("..." if len(body) > EXCERPT_LEN else "")


_XML_CODE = re.compile(rb"<Code>\s*([^<\s]{1,128})\s*</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,1024})</Message>")


def build_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_attempts: int = 0,
    code: str | None = None,
    message: str | None = None,
) -> GlueError:
    """A ``GlueError`` (modeled subclass when the code is known) for an error reply.

    The code comes from, in order: the argument, the JSON ``__type``/``code``, the
    ``x-amzn-ErrorType`` header, an XML ``<Code>``, else ``"HTTP <status>"``.
    """
    lowered = _lower_headers(headers)
    doc: Any = None
    if body and (code is None or message is None):
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            doc = None
    if isinstance(doc, dict):
        if code is None:
            raw = doc.get("__type") or doc.get("code") or doc.get("Code")
            if isinstance(raw, str) and raw.strip():
                code = _clean_code(raw)
        if message is None:
            raw_msg = doc.get("message", doc.get("Message"))
            if isinstance(raw_msg, str):
                message = raw_msg
    if not code and lowered.get("x-amzn-errortype"):
        code = _clean_code(lowered["x-amzn-errortype"])
    if not code and body[:512].lstrip().startswith(b"<"):
        match = _XML_CODE.search(body)
        if match:
            code = match.group(1).decode("utf-8", "replace")
            if message is None:
                msg_match = _XML_MESSAGE.search(body)
                if msg_match:
                    message = msg_match.group(1).decode("utf-8", "replace")
    if not code:
        code = f"HTTP {status}"
    if message is None:
        # A JSON error without a message has an empty one (as in botocore); anything else gets a
        # short excerpt of what came back, so a proxy's page is recognisable in the error.
        message = "" if isinstance(doc, dict) or not body else _excerpt(body)
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": _metadata(status, lowered, retry_attempts),
    }
    return error_class_for(code)(response)


def _field_path(exc: BaseException) -> str:
    """Name the first bad field in a cattrs validation error, e.g. ``Session.Command.Name``."""
    from cattrs.errors import ClassValidationError

    path: list[str] = []
    current: BaseException = exc
    while isinstance(current, ClassValidationError):
        nested = current.exceptions[0] if current.exceptions else None
        if nested is None:
            break
        notes = getattr(nested, "__notes__", [])
        if notes:
            # cattrs notes read "Structuring class Session @ attribute command".
            attr = notes[0].rsplit(" ", 1)[-1]
            path.append(attr)
        current = nested
    return ".".join(wire_name(p) for p in path) or "?"


def _bad_reply(status: int, headers: dict[str, str], why: str) -> GlueError:
    return build_error(status, headers, b"", code="InvalidReply", message=why)


def parse_reply(
    status: int, headers: Mapping[str, str], body: bytes, *, retry_attempts: int = 0
) -> Session:
    """Read a GetSession reply. Returns the ``Session`` or raises ``GlueError``; nothing else."""
    if not 200 <= status < 300:
        raise build_error(status, headers, body, retry_attempts=retry_attempts)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad_reply(
            status,
            _lower_headers(headers),
            f"reply body is not valid JSON: {_excerpt(body)!r}",
        ) from None
    raw = doc.get("Session") if isinstance(doc, dict) else None
    if not isinstance(raw, dict):
        raise _bad_reply(status, _lower_headers(headers), "reply has no Session object")
    if not isinstance(raw.get("Id"), str):
        raise _bad_reply(status, _lower_headers(headers), "reply Session has no string Id")
    try:
        return converter.structure(raw, Session)
    except Exception:
        pass
    try:
        detailed_converter().structure(raw, Session)
        where = "?"
    except cattrs.BaseValidationError as exc:
        where = _field_path(exc)
    except Exception:
        where = "?"
    raise _bad_reply(
        status, _lower_headers(headers), f"reply Session has a malformed field: {where}"
    )
