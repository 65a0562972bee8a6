"""The GetSession wire protocol as pure functions: no sockets, no clocks, no event loop.

``encode_request`` turns validated parameters into the JSON 1.1 body; ``parse_reply`` turns
``(status, headers, body)`` into a ``models.Session`` or raises an ``errors.GlueError``. Nothing
else escapes ``parse_reply``, whatever bytes arrive: that is what lets the transport and the
retry loop stay small.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import cattrs

from .errors import GlueError, ParamValidationError, error_class_for
from .models import (
    Session,
    WireTypeError,
    converter,
    detailed_converter,
    json_type,
    structure_hook,
    wire_name,
)

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

# OrchestrationNameString: 1-128 of [.\-_A-Za-z0-9].
REQUEST_ORIGIN_RE = re.compile(r"[.\-_A-Za-z0-9]{1,128}")

# json.dumps' own C string encoder (ensure_ascii=True): non-ASCII and controls are escaped.
_encode_string = json.encoder.encode_basestring_ascii

#: Bytes of a non-JSON error body kept in the error message.
EXCERPT_LEN = 200


def _in_name_string(c: str) -> bool:
    r"""Whether ``c`` may be in Glue's NameString: [\u0020-\ud7ff\ue000-\ufffd\t] or a
    surrogate *pair* (the model's Java-style "\ud800\udc00-\udbff\udfff"), which in Python is
    U+10000..U+10FFFF. Lone surrogates, C0/C1 controls other than TAB, U+FFFE/U+FFFF are not.
    (Comparisons rather than a regex: compiling that character class costs ~1.7 ms at import,
    for ids that are almost never outside printable ASCII.)"""
    return c == "\t" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"


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
    bad = next((c for c in session_id if not _in_name_string(c)), None)
    if bad is not None:
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
    # "aws.protocoltests#FooError:http://internal.amazon.com/" -> "FooError", as botocore does.
    if ":" in code:
        code = code.split(":", 1)[0]
    if "#" in code:
        code = code.rsplit("#", 1)[1]
    return code


def _excerpt(body: bytes) -> str:
    text = body[:EXCERPT_LEN].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text + ("..." if len(body) > EXCERPT_LEN else "")


_XML_CODE = re.compile(rb"<Code>\s*([^<\s]{1,128})\s*</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,1024})</Message>")
_NO_TYPE = object()
#: What botocore's JSON parser makes of a body that is UTF-8 but not JSON: ``{"message": text}``.
_TEXT = object()
#: A body botocore's JSON parser raises on: not UTF-8, or nested deeper than ``json`` goes.
_UNREADABLE = object()


def _read_json(body: bytes) -> Any:
    """The body as botocore's JSON parser decodes it: ``{}`` when empty, else the JSON value,
    ``_TEXT`` when it is not JSON, ``_UNREADABLE`` where botocore raises."""
    if not body:
        return {}
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return _UNREADABLE
    try:
        return json.loads(text)
    except ValueError:
        return _TEXT
    except RecursionError:
        return _UNREADABLE


def _botocore_code(
    status: int, headers: dict[str, str], body: bytes, value: Any
) -> tuple[str, dict[str, Any]] | None:
    """The code botocore's ``json`` parser gives this error reply, with any extra ``Error`` keys.

    ``None`` where botocore falls back to the bare status, gives no code or raises: a 5xx whose
    body is empty or an ``<html>`` page; a body that is not JSON, or JSON but not an object; an
    object without a string ``__type``. An ``x-amzn-query-error: Code;Type`` header overrides the
    code, as botocore's ``_do_query_compatible_error_parse`` does.
    """
    if status >= 500:
        stripped = body.strip()
        if not stripped or stripped.startswith(b"<html>"):
            return None  # botocore's generic error: str(status), it looks no further
    if value is _TEXT:
        raw: Any = _NO_TYPE
    elif isinstance(value, dict):
        raw = value.get("__type", _NO_TYPE)
        if raw is None:
            return None  # botocore leaves Code empty and does not look at the headers
    else:
        return None  # _UNREADABLE, or a JSON array/string/number: botocore raises
    code: Any = str(status) if raw is _NO_TYPE else raw
    if isinstance(code, str):
        code = _clean_code(code)
    elif not isinstance(code, (list, dict)) or ":" in code or "#" in code:
        return None  # a number, or a list holding ":" or "#": botocore raises
    query_error = headers.get("x-amzn-query-error")
    if query_error is not None:
        parts = query_error.split(";")
        if len(parts) == 2 and parts[0]:
            return parts[0], {"QueryErrorCode": code, "Type": parts[1]}
    if raw is _NO_TYPE or not isinstance(code, str) or not code:
        return None  # the bare status, an empty code, or a list/object kept as the code
    return code, {}


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

    The one rule, for every error reply, JSON or not (``code``/``message`` arguments win):

    - code: botocore's wherever botocore finds one (the JSON body's ``__type`` with a namespace
      ``a.b#`` and a ``:uri`` suffix stripped, or the code of an ``x-amzn-query-error`` header);
      where botocore would fall back to the bare status, the first of the ``x-amzn-ErrorType``
      header, the JSON body's ``code``, an XML ``<Code>``; else the status as botocore writes it
      (``"503"``).
    - message: botocore's for a JSON object body (``message``, else ``Message``, else ``""``) when
      it is a string; otherwise a short excerpt of the body: an XML error's ``<Message>`` text,
      else its first ``EXCERPT_LEN`` bytes. Never a decoding exception.
    """
    lowered = _lower_headers(headers)
    value = _read_json(body)
    doc: dict[str, Any] | None = value if isinstance(value, dict) else None
    extra: dict[str, Any] = {}
    if code is None:
        found = _botocore_code(status, lowered, body, value)
        if found is not None:
            code, extra = found
        else:
            candidates = [lowered.get("x-amzn-errortype"), doc.get("code") if doc else None]
            if body[:512].lstrip().startswith(b"<"):
                match = _XML_CODE.search(body)
                candidates.append(match.group(1).decode("utf-8", "replace") if match else None)
            cleaned = (_clean_code(c).strip() for c in candidates if isinstance(c, str))
            code = next((c for c in cleaned if c), str(status))
    if message is None and doc is not None:
        found_message = doc.get("message", doc.get("Message", ""))
        if isinstance(found_message, str):
            message = found_message
    if message is None:
        xml_message = _XML_MESSAGE.search(body) if body[:512].lstrip().startswith(b"<") else None
        text = xml_message.group(1).decode("utf-8", "replace") if xml_message else ""
        message = text if text.strip() else _excerpt(body)
    response = {
        "Error": {"Code": code, "Message": message, **extra},
        "ResponseMetadata": _metadata(status, lowered, retry_attempts),
    }
    return error_class_for(code)(response)


def _field_path(exc: BaseException) -> tuple[str, str]:
    """The first bad field in a cattrs validation error and why, e.g. ``Session.Command.Name``."""
    from cattrs.errors import ClassValidationError

    path = ["Session"]
    current: BaseException = exc
    while isinstance(current, ClassValidationError) and current.exceptions:
        nested = current.exceptions[0]
        notes = getattr(nested, "__notes__", [])
        if notes:
            # cattrs notes read "Structuring class Session @ attribute command".
            path.append(wire_name(notes[0].rsplit(" ", 1)[-1]))
        current = nested
    if isinstance(current, WireTypeError) and current.where:
        path.append(current.where)
    return ".".join(path), str(current)


def _bad_reply(status: int, headers: Mapping[str, str], why: str, retry_attempts: int) -> GlueError:
    return build_error(
        status, headers, b"", retry_attempts=retry_attempts, code="InvalidReply", message=why
    )


# The converter's structure function for Session, looked up on the first reply rather than
# dispatched per reply (~0.3 µs a call) or generated at import.
_structure: Callable[[Any, type[Session]], Session] | None = None


def _structure_hook() -> Callable[[Any, type[Session]], Session]:
    global _structure
    _structure = structure_hook(converter, Session)
    return _structure


_DECODER = json.JSONDecoder()


def _loads(text: str) -> Any:
    """``json.loads(text)``, without its wrappers for the common case: a document that starts
    at the first character and ends at the last (~0.9 µs less per reply). Anything else (white
    space around it, extra data, not JSON) goes to ``json.loads``, which decides and says why."""
    try:
        doc, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        end = -1
    if end != len(text):
        doc = json.loads(text)
    return doc


def parse_reply(
    status: int, headers: Mapping[str, str], body: bytes, *, retry_attempts: int = 0
) -> Session:
    """Read a GetSession reply. Returns the ``Session`` or raises ``GlueError``; nothing else.

    A success body is read as botocore reads it (UTF-8 JSON; a ``null`` member is not sent), and
    must fit the GetSession shape: a value of the wrong JSON type is ``InvalidReply`` naming the
    field, where botocore would pass it through or fail with an ``AttributeError``.
    """
    if not 200 <= status < 300:
        raise build_error(status, headers, body, retry_attempts=retry_attempts)
    try:
        doc = _loads(body.decode())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        why = f"reply body is not valid JSON in UTF-8: {_excerpt(body)!r}"
        raise _bad_reply(status, headers, why, retry_attempts) from None
    raw = doc.get("Session") if isinstance(doc, dict) else None
    if not isinstance(raw, dict):
        raise _bad_reply(status, headers, "reply has no Session object", retry_attempts)
    if not isinstance(raw.get("Id"), str):
        got = json_type(raw.get("Id")) if "Id" in raw else "nothing"
        why = f"reply has a malformed field Session.Id: expected a string, got {got}"
        raise _bad_reply(status, headers, why, retry_attempts)
    try:
        return (_structure or _structure_hook())(raw, Session)
    except Exception:
        pass
    try:
        detailed_converter().structure(raw, Session)
        where, why = "Session", "not a session"
    except cattrs.BaseValidationError as exc:
        where, why = _field_path(exc)
    except Exception as exc:
        where, why = "Session", str(exc)
    raise _bad_reply(status, headers, f"reply has a malformed field {where}: {why}", retry_attempts)
